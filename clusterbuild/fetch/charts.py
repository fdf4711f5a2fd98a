"""Finding a Helm chart: in an HTTP chart repository's ``index.yaml``, or in an OCI registry.

Repository charts are chosen as ``helm pull --version`` would, plus what the catalogue's
``init.sh`` scripts do by hand with ``helm search | grep | sort``: by *app* version, the
highest chart version whose ``appVersion`` equals the one asked for. Versions compare with
or without a leading ``v`` and exactly otherwise (never as substrings); ordering is semver's
(see ``semver``), and stable chart versions are preferred to pre-releases. The index is read
with every scalar as a string, so ``appVersion: 1.10`` stays ``1.10``.

OCI charts use Helm's media types; a ``+`` in a chart version is ``_`` in its tag, as Helm
pushes it. Errors: a chart or version the repository lacks is an ``InputError`` listing the
closest versions; an unreadable index or a manifest that is no chart is a ``BuildError``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urljoin

import yaml

from clusterbuild.errors import BuildError, InputError
from clusterbuild.fetch.semver import SemVer, strip_v, version_key
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.reference import Reference, ReferenceError

if TYPE_CHECKING:  # the index part is pure: no network or store code imported with it
    from clusterbuild.cache.store import BlobStore
    from clusterbuild.places.registry import RegistryClient

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
HELM_CHART_LEGACY = "application/tar+gzip"  # Helm 3.0 to 3.7 experimental OCI support
CLOSEST = 5
_Loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


@dataclass(frozen=True)
class ChartRef:
    name: str
    version: str
    app_version: str
    url: str  # absolute, resolved against the repository URL
    digest: Digest | None  # the archive's sha256 when the index gives it


class OciChart(NamedTuple):
    layer: Digest  # the chart .tgz
    size: int
    manifest: Digest


def resolve_repo_chart(index_yaml: bytes, name: str, version: str | None = None,
                       app_version: str | None = None, *, repo_url: str) -> ChartRef:
    """The chart ``name`` of the repository at ``repo_url``: by chart version, by app version
    (both may be given), or else its highest stable version."""
    entries = _chart_entries(index_yaml, name, repo_url)
    found = entries
    if version:
        found = [e for e in found if strip_v(_text(e, "version")) == strip_v(version)]
        if not found:
            raise _no_match(repr(name), "version", version, [_text(e, "version") for e in entries], repo_url)
    if app_version:
        matching = [e for e in found if strip_v(_text(e, "appVersion")) == strip_v(app_version)]
        if not matching:
            chart = f"{name!r} {version}" if version else repr(name)
            apps = [_text(e, "appVersion") for e in found]
            raise _no_match(chart, "appVersion", app_version, apps, repo_url)
        found = matching
    chosen = _highest(found)
    return _chart_ref(chosen, name, repo_url)


def _chart_entries(index_yaml: bytes, name: str, repo_url: str) -> list[dict[str, Any]]:
    try:
        index = yaml.load(index_yaml, Loader=_Loader)  # every scalar a string, no objects built
    except yaml.YAMLError as e:
        raise BuildError(f"reading the chart index of {repo_url}: not YAML ({type(e).__name__})",
                         hint="check the repository URL: it should serve index.yaml") from None
    if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
        raise BuildError(f"reading the chart index of {repo_url}: no 'entries' map",
                         hint="check the repository URL: it should serve index.yaml")
    entries = index["entries"].get(name)
    if not isinstance(entries, list) or not entries:
        close = difflib.get_close_matches(name, list(index["entries"]), CLOSEST)
        raise InputError(f"chart repository {repo_url} has no chart {name!r}",
                         hint=f"did you mean {', '.join(close)}?" if close else "check the chart name")
    return [e for e in entries if isinstance(e, dict)]


def _text(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    return value if isinstance(value, str) else ""


def _highest(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The entry of the highest chart version, stable versions first."""
    stable = [e for e in entries if not (SemVer.parse(_text(e, "version")) or SemVer(0, 0, 0)).is_prerelease]
    return max(stable or entries, key=lambda e: version_key(_text(e, "version")))


def _chart_ref(entry: dict[str, Any], name: str, repo_url: str) -> ChartRef:
    urls = entry.get("urls")
    version = _text(entry, "version")
    if not isinstance(urls, list) or not urls or not isinstance(urls[0], str):
        raise BuildError(f"chart index of {repo_url}: {name} {version} has no download URL")
    digest_text = _text(entry, "digest")
    digest = None
    if digest_text:
        try:
            digest = Digest.parse(digest_text) if ":" in digest_text else Digest(digest_text)
        except ValueError:
            raise BuildError(f"chart index of {repo_url}: {name} {version} has a malformed digest "
                             f"{digest_text!r}") from None
    url = urljoin(repo_url.rstrip("/") + "/", urls[0])
    return ChartRef(name, version, _text(entry, "appVersion"), url, digest)


def _no_match(chart: str, field: str, wanted: str, available: Sequence[str], repo_url: str) -> InputError:
    closest = closest_versions(wanted, [a for a in available if a])
    return InputError(f"chart {chart} in {repo_url} has no {field} {wanted!r}; closest: "
                      f"{', '.join(closest) or 'none'}", hint=f"pick one of the available {field}s")


def closest_versions(wanted: str, available: Sequence[str], count: int = CLOSEST) -> list[str]:
    """Up to ``count`` of ``available`` nearest to ``wanted`` (numerically for semantic versions),
    in version order."""
    unique = list(dict.fromkeys(available))
    target = SemVer.parse(strip_v(wanted))
    if target is None:
        picked = difflib.get_close_matches(wanted, unique, count, cutoff=0)
    else:
        def distance(text: str) -> tuple[int, ...]:
            v = SemVer.parse(strip_v(text))
            if v is None:
                return (1 << 30,)
            return (abs(v.major - target.major), abs(v.minor - target.minor), abs(v.patch - target.patch))
        picked = sorted(unique, key=lambda t: (distance(t), version_key(strip_v(t))))[:count]
    return sorted(picked, key=lambda t: version_key(strip_v(t)))


def oci_reference(ref: str, version_or_digest: str) -> Reference:
    """``oci://host/path/chart`` and a version (or ``sha256:…``) as an image reference."""
    if not ref.startswith("oci://"):
        raise InputError(f"OCI chart {ref!r} does not start with oci://", hint="write oci://host/path/chart")
    if not version_or_digest:
        raise InputError(f"OCI chart {ref}: a version or digest is required")
    base = ref.removeprefix("oci://").rstrip("/")
    separator = "@" if version_or_digest.startswith("sha256:") else ":"
    try:
        return Reference.parse(f"{base}{separator}{version_or_digest.replace('+', '_')}")
    except (ReferenceError, ValueError) as e:
        raise InputError(f"OCI chart {ref} {version_or_digest}: {e}",
                         hint="write oci://host/path/chart and a chart version") from None


def chart_layer(manifest: bytes, doing: str) -> tuple[Digest, int]:
    """The chart archive a Helm OCI manifest names: (digest, size)."""
    try:
        body = json.loads(manifest)
        config_type = body["config"]["mediaType"]
        layers = [(layer["mediaType"], layer["digest"], int(layer["size"])) for layer in body["layers"]]
    except (ValueError, KeyError, TypeError):
        raise BuildError(f"{doing}: the manifest is not an OCI image manifest") from None
    if config_type != HELM_CONFIG:
        raise BuildError(f"{doing}: not a Helm chart (config media type {config_type!r})",
                         hint="check the reference: it names an image, not a chart")
    for media_type, digest, size in layers:
        if media_type in (HELM_CHART, HELM_CHART_LEGACY):
            return Digest.parse(digest), size
    raise BuildError(f"{doing}: the Helm chart manifest has no {HELM_CHART} layer")


def resolve_oci_chart(ref: str, version_or_digest: str, client: RegistryClient) -> OciChart:
    """The chart archive and manifest that ``ref`` at ``version_or_digest`` names (no blob fetched)."""
    reference = oci_reference(ref, version_or_digest)
    doing = f"resolving chart {ref} {version_or_digest}"
    resolved = client.resolve(reference)
    if resolved.is_index:
        raise BuildError(f"{doing}: the reference names an image index, not a Helm chart")
    layer, size = chart_layer(resolved.data, doing)
    return OciChart(layer, size, resolved.digest)


def pull_oci_chart(ref: str, version_or_digest: str, client: RegistryClient, store: BlobStore) -> OciChart:
    """Resolve the chart and store its archive (skipped when already stored); pulled by the
    resolved manifest digest, so a tag moved meanwhile cannot change what is stored."""
    chart = resolve_oci_chart(ref, version_or_digest, client)
    if not store.has(chart.layer, chart.size):
        pinned = replace(oci_reference(ref, version_or_digest), tag="", digest=chart.manifest)
        client.pull([pinned], None, store)
    if not store.has(chart.layer, chart.size):
        raise BuildError(f"pulling chart {ref} {version_or_digest}: the chart layer {chart.layer} "
                         "was not stored")
    return chart
