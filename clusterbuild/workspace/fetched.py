"""Remote inputs while planning: their fetch and unpack steps, and — once unpacked in
the store — their files in each platform's build context.

An input with no pinned digest (not in the lock, not declared) or whose spec changed
since it was locked blocks its app version: ``plan`` says so, ``apply`` locks it first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from clusterbuild.lockfile import LockFile
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry
from clusterbuild.oci.platform import Platform
from clusterbuild.plan.steps import FetchStep, Step, UnpackStep
from clusterbuild.workspace.context import ContextFile
from clusterbuild.workspace.inputs import ALL, InputPlan, remote_inputs
from clusterbuild.workspace.load import AppVersion, LoadedWorkspace


class InputRecords(Protocol):
    def result(self, key: str) -> dict[str, Any] | None: ...
    def outputs_present(self, step: Step, result: dict[str, Any]) -> bool: ...


@dataclass
class AppInputs:
    steps: list[Step] = field(default_factory=list)  # fetch and unpack steps
    files: dict[Platform, dict[str, ContextFile]] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)  # why the build cannot be planned yet


def pinned(plan: InputPlan, lock: LockFile) -> tuple[str, Digest] | str:
    """(url, digest) to fetch, or why the input is not pinned."""
    fields = plan.fields
    locked = lock.get(plan.app, plan.version, plan.input_id, plan.platform)
    if locked is not None and locked.spec == plan.spec_digest:
        if plan.expect is not None and plan.expect != locked.digest:
            return f"{plan.name}: locked sha256 {locked.digest.hex[:12]}… differs from the spec's"
        return locked.url, locked.digest
    if plan.expect is not None and fields.get("url"):  # a declared checksum pins a direct URL
        return str(fields["url"]), plan.expect
    return f"{plan.name}: {'changed since locked' if locked else 'not locked'}"


def _unpack_params(plan: InputPlan) -> str:
    fields = plan.fields
    keep = ("dest", "member", "path", "values", "mode", "check_arch")
    params = {"kind": plan.kind, **{k: fields[k] for k in keep if fields.get(k) is not None}}
    if plan.kind == "binary":
        params["platform"] = plan.platform
    return json.dumps(params, sort_keys=True)


def _steps(av: AppVersion, plan: InputPlan, url: str, digest: Digest) -> tuple[FetchStep, UnpackStep]:
    platforms = av.platforms if plan.platform == ALL else (Platform.parse(plan.platform),)
    fetch = FetchStep(app=av.app, version=av.version, platforms=platforms,
                      slot=f"fetch/{av.app}/{av.version}/{plan.platform}/{plan.input_id}",
                      url=url, digest=str(digest))
    unpack = UnpackStep(app=av.app, version=av.version, platforms=platforms,
                        slot=f"unpack/{av.app}/{av.version}/{plan.platform}/{plan.input_id}",
                        needs=(fetch.key,), input_id=plan.input_id, what=plan.label,
                        digest=str(digest), params=_unpack_params(plan))
    return fetch, unpack


def context_files(record: dict[str, Any], blob_path: Callable[[Digest], Path]) -> dict[str, ContextFile]:
    out = {}
    for raw in record["entries"]:
        entry = FileEntry.from_json(raw)
        source = blob_path(entry.digest) if entry.kind is EntryKind.FILE and entry.digest else None
        out[entry.path] = ContextFile(entry, source)
    return out


def plan_inputs(ws: LoadedWorkspace, av: AppVersion, lock: LockFile, records: InputRecords,
                blob_path: Callable[[Digest], Path]) -> AppInputs:
    result = AppInputs(files={p: {} for p in av.platforms})
    for plan in remote_inputs(ws, av):
        where = pinned(plan, lock)
        if isinstance(where, str):
            result.blocked.append(where)
            continue
        fetch, unpack = _steps(av, plan, *where)
        result.steps += [fetch, unpack]
        record = records.result(unpack.key)
        if record is None or not records.outputs_present(unpack, record):
            result.blocked.append(f"{plan.name}: not fetched yet")
            continue
        for platform in unpack.platforms:
            result.files[platform].update(context_files(record, blob_path))
    return result
