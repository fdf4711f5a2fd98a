"""Remote inputs while planning: their fetch and unpack steps, and — once unpacked in
the store — their files in each platform's build context.

An input with no pinned digest (not in the lock, not declared) or whose spec changed
since it was locked is unpinned: ``plan`` says it blocks the app version, ``apply`` and
``lock`` pin it first, ``apply --frozen`` refuses the app version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from clusterbuild.kubefile.context import ContextFile
from clusterbuild.lockfile import LockFile
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind
from clusterbuild.oci.platform import Platform
from clusterbuild.plan.results import FilesResult, StepResult
from clusterbuild.plan.sources import input_steps
from clusterbuild.plan.steps import FetchStep, Step, UnpackStep
from clusterbuild.workspace.inputs import ALL, InputPlan
from clusterbuild.workspace.load import AppVersion


@dataclass(frozen=True)
class AppInputs:
    """The fetch and unpack steps of an app version's pinned inputs, and what is unpinned."""

    steps: tuple[Step, ...] = ()  # fetch and unpack steps
    unpacks: tuple[UnpackStep, ...] = ()  # the steps whose results are context files
    unpinned: tuple[str, ...] = ()  # why an input cannot be fetched yet


def pinned(plan: InputPlan, lock: LockFile) -> tuple[str, Digest] | str:
    """(url, digest) to fetch, or why the input is not pinned."""
    fields = plan.fields
    locked = lock.get(plan.app, plan.version, plan.input_id, plan.platform)
    if locked is None and plan.platform != ALL:  # pinned once for every platform; one selected now
        locked = lock.get(plan.app, plan.version, plan.input_id, ALL)
    if locked is not None and locked.spec == plan.spec_digest:
        if plan.expect is not None and plan.expect != locked.digest:
            return f"{plan.name}: locked sha256 {locked.digest.hex[:12]}… differs from the spec's"
        return locked.url, locked.digest
    if plan.expect is not None and fields.get("url"):  # a declared checksum pins a direct URL
        return str(fields["url"]), plan.expect
    return f"{plan.name}: {'changed since locked' if locked else 'not locked'}"


def _unpack_params(plan: InputPlan) -> str:
    fields = plan.fields
    keep = ("dest", "member", "path", "values", "mode", "check_arch", "max_size", "exclude", "edits")
    params = {"kind": plan.kind, **{k: fields[k] for k in keep if fields.get(k) is not None}}
    if plan.kind == "binary":
        params["platform"] = plan.platform
    for optional in ("exclude", "edits"):
        if not params.get(optional):
            params.pop(optional, None)  # the keys of inputs without it stay as they were
    return json.dumps(params, sort_keys=True)


def _steps(av: AppVersion, plan: InputPlan, url: str, digest: Digest) -> tuple[FetchStep, UnpackStep]:
    platforms = av.platforms if plan.platform == ALL else (Platform.parse(plan.platform),)
    return input_steps(av.app, av.version, platforms, plan.platform, plan.input_id, plan.label,
                       url, digest, _unpack_params(plan))


def context_files(result: FilesResult, blob_path: Callable[[Digest], Path]) -> dict[str, ContextFile]:
    out = {}
    for entry in result.entries:
        source = blob_path(entry.digest) if entry.kind is EntryKind.FILE and entry.digest else None
        out[entry.path] = ContextFile(entry, source)
    return out


def plan_inputs(av: AppVersion, plans: Sequence[InputPlan], lock: LockFile) -> AppInputs:
    """The steps of every input of ``plans`` (``remote_inputs`` of ``av``) that apps.lock (or
    the spec's sha256) pins."""
    steps: list[Step] = []
    unpacks, unpinned = [], []
    for plan in plans:
        where = pinned(plan, lock)
        if isinstance(where, str):
            unpinned.append(where)
            continue
        fetch, unpack = _steps(av, plan, *where)
        steps += [fetch, unpack]
        unpacks.append(unpack)
    return AppInputs(tuple(steps), tuple(unpacks), tuple(unpinned))


def input_files(av: AppVersion, inputs: AppInputs, results: Mapping[str, StepResult],
                blob_path: Callable[[Digest], Path]) -> dict[Platform, dict[str, ContextFile]] | str:
    """Each platform's unpacked input files, or why they are not all there yet."""
    files: dict[Platform, dict[str, ContextFile]] = {p: {} for p in av.platforms}
    for unpack in inputs.unpacks:
        result = results.get(unpack.key)
        if not isinstance(result, FilesResult):
            return f"{av.name} {unpack.input_id} ({unpack.what}): not fetched yet"
        for platform in unpack.platforms:
            files[platform].update(context_files(result, blob_path))
    return files


def input_producers(inputs: AppInputs, results: Mapping[str, StepResult]) -> dict[str, str]:
    """Each unpacked file's digest -> the key of the unpack step whose result holds it (the
    layers that pack the file need that step: ``plan.planner``)."""
    out: dict[str, str] = {}
    for unpack in inputs.unpacks:
        result = results.get(unpack.key)
        if isinstance(result, FilesResult):
            for entry in result.entries:
                if entry.kind is EntryKind.FILE and entry.digest is not None:
                    out.setdefault(str(entry.digest), unpack.key)
    return out
