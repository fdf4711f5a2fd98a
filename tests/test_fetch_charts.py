"""Helm chart resolution: repository indexes (pure), a chart repository served over HTTP, and
an OCI chart pushed to Debian's docker-registry and pulled back."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_servers import FileServer

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError, InputError
from clusterbuild.fetch.archives import unpack
from clusterbuild.fetch.charts import (
    HELM_CHART,
    HELM_CONFIG,
    ChartRef,
    closest_versions,
    oci_reference,
    pull_oci_chart,
    resolve_oci_chart,
    resolve_repo_chart,
)
from clusterbuild.fetch.http import FetchConfig, Fetcher
from clusterbuild.fetch.semver import SemVer, version_key
from clusterbuild.fetch.values import edit_values
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType, to_bytes
from clusterbuild.oci.reference import Reference
from clusterbuild.places.registry import RegistryClient, RegistryConfig

from conftest import running_registry

REPO = "https://charts.example.com/stable"
CHARTS = [  # (chart version, appVersion as written in the index)
    ("1.0.0", '"v2.0.0"'), ("1.1.0", '"2.0.0"'), ("0.9.0", '"2.0.10"'), ("1.2.0", '"2.1.0"'),
    ("1.10.0", '"2.1.0"'), ("1.11.0-rc.1", '"2.1.0"'), ("2.0.0-beta.2", '"3.0.0-beta"'),
    ("2.0.0-beta.10", '"3.0.0-beta"'), ("0.1.0", "1.10"),  # unquoted: must stay "1.10", not 1.1
]


def index_yaml(charts: list[tuple[str, str]] = CHARTS, urls: dict[str, str] | None = None,
               digests: dict[str, str] | None = None) -> bytes:
    lines = ["apiVersion: v1", "entries:", "  other-app:", "  - name: other-app", "    version: 1.0.0",
             "    urls: [other-app-1.0.0.tgz]", "  demo:"]
    for version, app in charts:
        url = (urls or {}).get(version, f"charts/demo-{version}.tgz")
        lines += ["  - name: demo", f"    version: {version}", f"    appVersion: {app}",
                  f"    urls: [{url}]"]
        if digests and version in digests:
            lines.append(f"    digest: {digests[version]}")
    return ("\n".join(lines) + "\ngenerated: '2024-01-01T00:00:00Z'\n").encode()


def test_semver_precedence() -> None:
    ordered = ["0.9.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "v1.2", "1.10.0"]
    assert sorted(reversed(ordered), key=version_key) == ordered
    assert SemVer.parse("v1.2") == SemVer(1, 2, 0)
    assert SemVer.parse("1.2.3-rc.1+build.5") == SemVer(1, 2, 3, ("rc", "1"), "build.5")
    assert SemVer.parse("latest") is None and SemVer.parse("1.2.3.4") is None


@pytest.mark.parametrize("asked", ["1.2.0", "v1.2.0"])
def test_by_chart_version(asked: str) -> None:
    ref = resolve_repo_chart(index_yaml(), "demo", version=asked, repo_url=REPO)
    assert ref == ChartRef("demo", "1.2.0", "2.1.0", f"{REPO}/charts/demo-1.2.0.tgz", None)


@pytest.mark.parametrize(("app", "chart"), [
    ("2.0.0", "1.1.0"), ("v2.0.0", "1.1.0"),  # written with and without v in the index: both match
    ("2.1.0", "1.10.0"),  # semver, not string order; the stable 1.10.0 over 1.11.0-rc.1
    ("3.0.0-beta", "2.0.0-beta.10"),  # only pre-releases match: the highest, numerically
    ("2.0.10", "0.9.0"), ("1.10", "0.1.0"),
])
def test_by_app_version_the_highest_chart_wins(app: str, chart: str) -> None:
    assert resolve_repo_chart(index_yaml(), "demo", app_version=app, repo_url=REPO).version == chart


def test_app_versions_match_exactly_never_as_substrings() -> None:
    with pytest.raises(InputError) as caught:
        resolve_repo_chart(index_yaml(), "demo", app_version="2.0.1", repo_url=REPO)
    assert str(caught.value) == (f"chart 'demo' in {REPO} has no appVersion '2.0.1'; closest: v2.0.0, 2.0.0, "
                                 "2.0.10, 2.1.0, 3.0.0-beta (hint: pick one of the available appVersions)")
    with pytest.raises(InputError, match=r"has no appVersion '2\.0'"):
        resolve_repo_chart(index_yaml(), "demo", app_version="2.0", repo_url=REPO)


def test_no_such_chart_version_lists_the_closest() -> None:
    with pytest.raises(InputError) as caught:
        resolve_repo_chart(index_yaml(), "demo", version="1.3.0", repo_url=REPO)
    assert "has no version '1.3.0'; closest: 1.0.0, 1.1.0, 1.2.0, 1.10.0, 1.11.0-rc.1" in str(caught.value)
    pattern = r"chart 'demo' 1\.2\.0 in .* has no appVersion '9\.9\.9'; closest: 2\.1\.0 \(hint"
    with pytest.raises(InputError, match=pattern):
        resolve_repo_chart(index_yaml(), "demo", version="1.2.0", app_version="9.9.9", repo_url=REPO)


def test_missing_chart_and_default_version() -> None:
    with pytest.raises(InputError, match=r"has no chart 'dmeo' \(hint: did you mean demo\?\)"):
        resolve_repo_chart(index_yaml(), "dmeo", repo_url=REPO)
    assert resolve_repo_chart(index_yaml(), "demo", repo_url=REPO).version == "1.10.0"  # highest stable
    with pytest.raises(BuildError, match="no 'entries' map"):
        resolve_repo_chart(b"<html>not an index</html>", "demo", repo_url=REPO)
    assert closest_versions("latest", ["lts", "latest-1", "1.0"], 1) == ["latest-1"]


def test_urls_and_digests() -> None:
    hex_ = "ab" * 32
    index = index_yaml(urls={"1.2.0": "https://cdn.example.com/demo-1.2.0.tgz", "1.0.0": "../up/demo.tgz"},
                       digests={"1.2.0": hex_, "1.0.0": f"sha256:{hex_}", "1.1.0": "md5:nope"})
    ref = resolve_repo_chart(index, "demo", version="1.2.0", repo_url=REPO + "/")
    assert (ref.url, ref.digest) == ("https://cdn.example.com/demo-1.2.0.tgz", Digest(hex_))
    ref = resolve_repo_chart(index, "demo", version="1.0.0", repo_url=REPO)
    assert (ref.url, ref.digest) == ("https://charts.example.com/up/demo.tgz", Digest(hex_))
    with pytest.raises(BuildError, match="malformed digest 'md5:nope'"):
        resolve_repo_chart(index, "demo", version="1.1.0", repo_url=REPO)


def chart_tgz(name: str, version: str, values: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path, text in [(f"{name}/Chart.yaml", f"apiVersion: v2\nname: {name}\nversion: {version}\n"),
                           (f"{name}/values.yaml", values)]:
            info = tarfile.TarInfo(path)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return out.getvalue()


def test_a_served_chart_repository_end_to_end(tmp_path: Path) -> None:
    """helm repo add + helm pull by app version + yq, as declared inputs: index, archive, values."""
    store = BlobStore(tmp_path / "cache")
    archive = chart_tgz("demo", "1.10.0", "image:\n  repository: demo\n  tag: v2.1.0\n  digest: sha256:x\n")
    with FileServer() as server, Fetcher(FetchConfig(backoff=0.01)) as fetcher:
        repo_url = server.url + "/stable"
        server.serve("/stable/index.yaml", index_yaml(digests={"1.10.0": Digest.of_bytes(archive).hex}),
                     content_type="text/yaml")
        server.serve("/stable/charts/demo-1.10.0.tgz", archive, content_type="application/gzip")
        index = fetcher.fetch(f"{repo_url}/index.yaml", store, what="index of stable")
        ref = resolve_repo_chart(store.read_bytes(index.digest), "demo", app_version="v2.1.0",
                                 repo_url=repo_url)
        fetched = fetcher.fetch(ref.url, store, expect=ref.digest, what=f"chart demo {ref.version}")
    entries = {e.path: e for e in unpack(store.path(fetched.digest), None, store, strip_components=1)}
    assert sorted(entries) == ["Chart.yaml", "values.yaml"]
    values_digest = entries["values.yaml"].digest
    assert values_digest is not None
    values = store.read_bytes(values_digest).decode()
    edited = edit_values(values, {"image.digest": None}, [])
    assert edited == "image:\n  repository: demo\n  tag: v2.1.0\n  digest: null\n"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("chart-registry")
    with running_registry(root / "data", root) as address:
        yield address


def push_chart(client: RegistryClient, store: BlobStore, target: str, archive: bytes,
               config_type: str = HELM_CONFIG) -> tuple[Digest, Digest]:
    """A chart as ``helm push`` stores it: Helm config, one chart layer; (manifest, layer) digests."""
    config = to_bytes({"apiVersion": "v2", "name": "demo", "version": "1.2.3+up1"})
    layer = store.put_bytes(archive)
    manifest = to_bytes({
        "schemaVersion": 2, "mediaType": MediaType.MANIFEST.value,
        "config": {"mediaType": config_type, "digest": str(store.put_bytes(config)), "size": len(config)},
        "layers": [{"mediaType": HELM_CHART, "digest": str(layer), "size": len(archive)}]})
    root = Descriptor(MediaType.MANIFEST.value, store.put_bytes(manifest), len(manifest))
    return client.push(Reference.parse(target), root, store), layer


def test_an_oci_chart_is_resolved_and_pulled(registry: str, tmp_path: Path) -> None:
    archive = chart_tgz("demo", "1.2.3+up1", "replicas: 1\n")
    config = RegistryConfig(insecure=frozenset({registry}), backoff=0.01, retries=1)
    with RegistryClient(config, None) as client:
        pusher = BlobStore(tmp_path / "pusher")
        manifest, layer = push_chart(client, pusher, f"{registry}/charts/demo:1.2.3_up1", archive)
        store = BlobStore(tmp_path / "cache")
        chart = pull_oci_chart(f"oci://{registry}/charts/demo", "1.2.3+up1", client, store)
        assert chart == (layer, len(archive), manifest)
        assert store.read_bytes(chart.layer) == archive
        assert resolve_oci_chart(f"oci://{registry}/charts/demo", str(manifest), client) == chart
        with pytest.raises(BuildError, match="MANIFEST_UNKNOWN"):
            resolve_oci_chart(f"oci://{registry}/charts/demo", "9.9.9", client)
        push_chart(client, pusher, f"{registry}/images/app:1", archive, config_type=MediaType.CONFIG.value)
        with pytest.raises(BuildError, match="not a Helm chart"):
            resolve_oci_chart(f"oci://{registry}/images/app", "1", client)


def test_oci_references() -> None:
    assert str(oci_reference("oci://ghcr.io/org/charts/demo", "1.0.0+a")) == "ghcr.io/org/charts/demo:1.0.0_a"
    assert oci_reference("oci://ghcr.io/demo/", "sha256:" + "0" * 64).digest == Digest("0" * 64)
    with pytest.raises(InputError, match="does not start with oci://"):
        oci_reference("https://ghcr.io/demo", "1.0.0")
    with pytest.raises(InputError, match="a version or digest is required"):
        oci_reference("oci://ghcr.io/demo", "")
