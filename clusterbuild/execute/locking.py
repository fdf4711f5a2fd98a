"""Resolve remote inputs to content (network) and pin them in ``apps.lock``.

A chart from a repository is resolved through its ``index.yaml`` (by chart version, or
by app version); one from an OCI registry through its manifest; every other input is
its URL. Each is fetched into the store and its sha256 recorded.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError, InputError
from clusterbuild.execute.fetching import Downloads
from clusterbuild.lockfile import Locked, LockFile
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.reference import Reference
from clusterbuild.plan.keys import value_digest
from clusterbuild.plan.planner import AppImages
from clusterbuild.plan.results import FilesResult, StepResult
from clusterbuild.plan.steps import ScriptStep, Step
from clusterbuild.workspace.fetched import pinned
from clusterbuild.workspace.inputs import ALL, InputPlan
from clusterbuild.workspace.load import AppVersion
from clusterbuild.workspace.releases import TAG, locked_tag, pinned_releases, release_id, spec_digest

if TYPE_CHECKING:
    from clusterbuild.execute.runner import StepRun


@dataclass(frozen=True)
class LockChange:
    input: str  # the input's name, e.g. "app:v1 inputs[0] (chart web)"
    before: str  # "" when it was not locked
    after: str


def _resolve_chart_repo(plan: InputPlan, downloads: Downloads, store: BlobStore) -> Locked:
    from clusterbuild.fetch.charts import resolve_repo_chart

    fields = plan.fields
    repo = str(fields["repo"]).rstrip("/")
    index = downloads.fetcher.fetch(f"{repo}/index.yaml", store, what=f"{plan.name} index")
    chart = resolve_repo_chart(store.read_bytes(index.digest), fields["name"], fields.get("version"),
                               fields.get("app_version"), repo_url=repo)
    digest = downloads.fetch(chart.url, chart.digest or plan.expect, plan.name, store)
    return Locked(plan.spec_digest, chart.url, digest, (("chart_version", chart.version),))


def _resolve_chart_oci(plan: InputPlan, downloads: Downloads, store: BlobStore) -> Locked:
    from clusterbuild.fetch.charts import pull_oci_chart

    fields = plan.fields
    chart = pull_oci_chart(fields["oci"], fields["version"], downloads.registry, store)
    if plan.expect is not None and plan.expect != chart.layer:
        raise BuildError(f"{plan.name}: the chart is {chart.layer}, the spec expects {plan.expect}",
                         hint="fix sha256 in clusterbuild.yaml or the chart version")
    return Locked(plan.spec_digest, f"{fields['oci']}@{chart.manifest}", chart.layer,
                  (("chart_version", str(fields["version"])),))


def published_checksum(plan: InputPlan, url: str, downloads: Downloads, store: BlobStore) -> Digest | None:
    """The sha256 the input's ``sha256_url`` lists for the file ``url`` names (None without one)."""
    from clusterbuild.fetch.checksums import MAX_BYTES, checksum_for

    checksums = plan.fields.get("sha256_url")
    if not checksums:
        return None
    fetched = downloads.fetcher.fetch(str(checksums), store, what=f"{plan.name} checksums", allow_html=False)
    if fetched.size > MAX_BYTES:
        raise BuildError(f"{plan.name}: the checksum file {checksums} is larger than {MAX_BYTES} bytes",
                         hint="sha256_url names a checksum file, not the download")
    text = store.read_bytes(fetched.digest).decode("utf-8", errors="replace")
    return checksum_for(text, url.split("?", 1)[0], f"{plan.name} sha256_url {checksums}")


def resolve_input(plan: InputPlan, downloads: Downloads, store: BlobStore) -> Locked:
    fields = plan.fields
    if plan.kind == "chart" and fields.get("repo"):
        return _resolve_chart_repo(plan, downloads, store)
    if plan.kind == "chart" and fields.get("oci"):
        return _resolve_chart_oci(plan, downloads, store)
    url = str(fields["url"])
    expect = plan.expect or published_checksum(plan, url, downloads, store)
    digest: Digest = downloads.fetch(url, expect, plan.name, store)
    return Locked(plan.spec_digest, url, digest)


def lock_inputs(plans: Iterable[InputPlan], lock: LockFile, downloads: Downloads, store: BlobStore,
                update: bool = False) -> list[LockChange]:
    """Pin every input not pinned yet (all of them with ``update``); return what changed."""
    changes = []
    for plan in plans:
        if not update and not isinstance(pinned(plan, lock), str):
            continue
        before = lock.get(plan.app, plan.version, plan.input_id, plan.platform)
        locked = resolve_input(plan, downloads, store)
        lock.set(plan.app, plan.version, plan.input_id, plan.platform, locked)
        if before != locked:
            changes.append(LockChange(plan.name, before.digest.hex if before else "", locked.digest.hex))
    return changes


def lock_releases(av: AppVersion, lock: LockFile, downloads: Downloads, store: BlobStore,
                  update: bool = False) -> tuple[AppVersion, list[LockChange]]:
    """Pin every release of ``av`` not pinned yet (all of them with ``update``); ``av`` with
    the tags, and what changed."""
    changes = []
    fetched: dict[str, Digest] = {}  # URL -> download: several values read out of one archive
    for name in sorted(av.spec.releases):
        if not update and locked_tag(lock, av, name) is not None:
            continue
        spec = av.spec.releases[name]
        before = lock.get(av.app, av.version, release_id(name), ALL)
        url, tag = _resolve_release(av, name, downloads, store, fetched)
        locked = Locked(spec_digest(spec), url, Digest.of_bytes(tag.encode()), ((TAG, tag),))
        lock.set(av.app, av.version, release_id(name), ALL, locked)
        if before != locked:
            old = dict(before.extra).get(TAG, "") if before else ""
            changes.append(LockChange(f"{av.name} releases.{name} ({spec.describe()})", old, tag))
    return replace(av, releases=pinned_releases(lock, av)), changes


def _resolve_release(av: AppVersion, name: str, downloads: Downloads, store: BlobStore,
                     fetched: dict[str, Digest]) -> tuple[str, str]:
    """Where release ``name`` of ``av`` was read, and its value (``fetched``: downloads made)."""
    from clusterbuild.fetch.releases import api_url, latest_release_tag

    spec = av.spec.releases[name]
    if spec.github is not None:
        what = f"{av.name} releases.{name} (the latest release of {spec.github})"
        return api_url(spec.github), latest_release_tag(spec.github, downloads.fetcher, store, what)
    from clusterbuild.fetch.releases import value_of_text
    from clusterbuild.workspace.templates import render

    field = f"releases.{name}"
    variables = {"app": av.app, "version": av.version}
    url = render(str(spec.url), variables, av.spec_path, f"{field}.url")
    file = render(spec.file, variables, av.spec_path, f"{field}.file") if spec.file else None
    run = render(spec.run, variables, av.spec_path, f"{field}.run") if spec.run is not None else None
    what = f"{av.name} {field} ({url})"
    blob = fetched.get(url) or downloads.fetch(url, None, what, store)
    fetched[url] = blob
    text = _release_file(blob, file, store, what)
    return url, value_of_text(text, spec.yq, run, f"{av.spec_path}: {field}", f"{file or url}")


RELEASE_FILE_MAX = 256 << 20  # what a release's archive may expand to (the default of charts)


def _release_file(blob: Digest, file: str | None, store: BlobStore, what: str) -> str:
    """The text of ``file`` in the archive ``blob`` (the download itself when None)."""
    from clusterbuild.execute.fetching import TOP, under_top
    from clusterbuild.fetch.archives import unpack

    if file is None:
        data = store.read_bytes(blob)
    else:
        root = posixpath.normpath(file).strip("/")
        entries = unpack(store.file(blob), None, store, members=[root], what=what, max_bytes=RELEASE_FILE_MAX)
        if root.split("/", 1)[0] == TOP:
            root, entries = under_top(entries, root, what)
        found = [e.digest for e in entries if e.path == root and e.digest is not None]
        if not found:
            raise BuildError(f"{what}: {file} is not a file of the archive", hint="check the release's file")
        data = store.read_bytes(found[0])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BuildError(f"{what}: {file or 'the download'} is not text",
                         hint="check the release's url and file") from None


SCRIPT_ID = "init.sh"


def outputs_digest(result: FilesResult) -> Digest:
    """One digest for everything a script left (paths, modes, contents)."""
    return Digest(value_digest([e.to_json() for e in result.entries]))


def check_script_lock(steps: Sequence[Step], lock: LockFile, frozen: bool) -> None:
    """In --frozen, a script must be the one locked (same script, dir, arguments, tools)."""
    if not frozen:
        return
    for step in steps:
        locked = lock.get(step.app, step.version, SCRIPT_ID, str(step.platforms[0]))
        if locked is None or locked.spec != step.key:
            state = "not locked" if locked is None else "changed since locked (the script, its " \
                "directory or the tools it calls)"
            raise InputError(f"{lock.path}: {step.app}:{step.version} [{step.platforms[0]}] init.sh "
                             f"{state}", hint="run `clusterbuild apply` without --frozen and commit "
                                              "apps.lock")


def record_script_outputs(ran: Sequence[StepRun], results: Mapping[str, StepResult], lock: LockFile,
                          frozen: bool) -> None:
    """Pin what each script that ran left; in --frozen it must equal what was pinned.
    (The caller writes apps.lock.)"""
    for run in ran:
        step = run.step
        result = results.get(step.key)
        if not isinstance(step, ScriptStep) or not isinstance(result, FilesResult):
            continue
        digest = outputs_digest(result)
        platform = str(step.platforms[0])
        locked = lock.get(step.app, step.version, SCRIPT_ID, platform)
        if frozen and locked is not None and locked.digest != digest:
            raise BuildError(f"{step.app}:{step.version} [{platform}]: init.sh left other files "
                             f"than apps.lock pins ({digest.hex[:12]} vs {locked.digest.hex[:12]})",
                             hint="the script is not reproducible: pin what it downloads")
        if not frozen:
            lock.set(step.app, step.version, SCRIPT_ID, platform, Locked(step.key, SCRIPT_ID, digest))


def pin_images(images: AppImages, lock: LockFile, frozen: bool) -> AppImages:
    """Pull each image by the digest apps.lock pins it to; in --frozen, every image must be pinned."""
    pins = {ref: str(lock.images[ref]) for ref in images.references if ref in lock.images}
    missing = [ref for ref in images.references if ref not in pins]
    if frozen and missing:
        raise InputError(f"{lock.path}: image {missing[0]} of {images.scan.app}:{images.scan.version} is "
                         f"not pinned" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                         hint="run `clusterbuild lock` (or apply without --frozen) and commit apps.lock")
    return replace(images, pins=pins)


def lock_images(references: Iterable[str], lock: LockFile, downloads: Downloads,
                update: bool = False) -> list[LockChange]:
    """Pin each image reference to the digest it names now (every one with ``update``). The
    references are resolved several at once (a catalogue app lists tens of images, each a
    round trip to a registry); nothing is pinned unless every one resolved."""
    from clusterbuild.places.transfers import run_parallel

    todo = [ref for ref in sorted(set(references)) if update or ref not in lock.images]
    registry = downloads.registry
    roots = run_parallel(registry.config.jobs, [partial(_root, registry, ref) for ref in todo],
                         name="resolve")
    changes = []
    for ref, root in zip(todo, roots, strict=True):
        before = lock.images.get(ref)
        lock.images[ref] = root
        if before != root:
            changes.append(LockChange(f"image {ref}", before.hex if before else "", root.hex))
    return changes


def _root(registry: Any, ref: str) -> Digest:
    digest: Digest = registry.resolve(Reference.parse(ref)).digest
    return digest
