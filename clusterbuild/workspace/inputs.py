"""Declared remote inputs, rendered per platform: what to fetch and how to place it.

An input whose rendered spec is the same for every platform (a chart, a manifest) is
one input for all (platform ``*``); a per-arch binary is one per platform. The spec
digest is what the lock file remembers, to notice a spec edited since it was locked.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass, replace
from typing import Any

from clusterbuild.errors import ConfigError
from clusterbuild.fetch.data_url import data_bytes, data_url
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.platform import Platform
from clusterbuild.schema.models import (
    ArchiveInput,
    BinaryInput,
    ChartInput,
    CopyInput,
    FileInput,
    ManifestInput,
    RemoteInput,
    RenderInput,
    TextInput,
)
from clusterbuild.workspace.derived import names_reads
from clusterbuild.workspace.load import AppVersion, LoadedWorkspace
from clusterbuild.workspace.prepare import template_variables
from clusterbuild.workspace.templates import render

ALL = "*"


@dataclass(frozen=True)
class InputPlan:
    app: str
    version: str
    input_id: str  # "inputs[2]"
    kind: str
    label: str  # "chart ingress-nginx", "binary opt/helm"
    spec: tuple[tuple[str, Any], ...]  # rendered fields
    platform: str  # ALL, or e.g. linux/arm64
    expect: Digest | None  # declared sha256, if any

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self.spec)

    @property
    def spec_digest(self) -> str:
        return hashlib.sha256(json.dumps(self.spec, sort_keys=True, default=str).encode()).hexdigest()

    @property
    def name(self) -> str:
        where = "" if self.platform == ALL else f" [{self.platform}]"
        return f"{self.app}:{self.version} {self.input_id} ({self.label}){where}"


def _rendered(av: AppVersion, n: int, item: RemoteInput, variables: dict[str, Any]) -> dict[str, Any]:
    field = f"inputs[{n}]"
    if isinstance(item, BinaryInput | ArchiveInput):
        variables = {**variables, "arch_name": item.arch_map.get(variables["arch"], variables["arch"])}
    out: dict[str, Any] = {}
    dumped = item.model_dump(exclude={"sha256", "platforms", "arch_map"})
    newer = ("edits", "replace", "dir", *(("exclude",) if isinstance(item, ChartInput) else ()))
    for key in newer:  # newer fields: absent when unset, so older locks still match
        if not dumped.get(key):
            dumped.pop(key, None)
    for key, value in dumped.items():
        if isinstance(value, str):
            value = render(value, variables, av.spec_path, f"{field}.{key}")
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = [render(v, variables, av.spec_path, f"{field}.{key}[{i}]") for i, v in enumerate(value)]
        elif key == "edits":
            value = [{k: render(v, variables, av.spec_path, f"{field}.edits[{i}].{k}") if isinstance(v, str)
                      else v for k, v in edit.items()} for i, edit in enumerate(value)]
        out[key] = value
    if isinstance(item, TextInput):  # fetched from itself: a data: URL, keyed by its own digest
        out["url"] = data_url(out.pop("text").encode("utf-8"))
    return out


def _destination(av: AppVersion, n: int, item: RemoteInput, fields: dict[str, Any]) -> str:
    if isinstance(item, ChartInput):
        dest = f"{fields.get('dir') or 'charts'}/{fields['name']}"
    elif isinstance(item, ManifestInput):
        dest = fields.get("dest") or "manifests/" + posixpath.basename(fields["url"].split("?")[0])
    else:
        dest = fields["dest"]
    dest = posixpath.normpath(dest)
    if dest.startswith(("/", "..")) or dest == ".":
        raise ConfigError(av.spec_path, f"inputs[{n}].dest", f"{dest!r} must be a relative path "
                          "inside the build context", hint="e.g. opt/helm")
    return dest


def _expected(av: AppVersion, n: int, item: RemoteInput, platform: Platform,
              fields: dict[str, Any]) -> Digest | None:
    if isinstance(item, TextInput):
        return Digest.of_bytes(data_bytes(fields["url"]))
    declared = item.sha256
    if isinstance(declared, dict):
        declared = declared.get(str(platform)) or declared.get(platform.architecture)
        if declared is None:
            raise ConfigError(av.spec_path, f"inputs[{n}].sha256", f"no checksum for {platform}",
                              hint=f"add {platform}: <sha256>, or drop sha256 and run clusterbuild lock")
    return Digest(declared.removeprefix("sha256:")) if declared else None


def _label(item: RemoteInput, dest: str) -> str:
    return f"{item.kind} {item.name}" if isinstance(item, ChartInput) else f"{item.kind} {dest}"


def remote_inputs(ws: LoadedWorkspace, av: AppVersion) -> list[InputPlan]:
    """Every remote input of ``av`` for each of its platforms (merged when identical)."""
    plans: list[InputPlan] = []
    for n, item in enumerate(av.spec.inputs):
        if isinstance(item, FileInput | RenderInput | CopyInput) or names_reads(item):
            continue  # a local file; a text naming reads or a render, written in each build (``derived``)
        per_platform = []
        for platform in av.platforms:
            if item.platforms is not None and str(platform) not in item.platforms:
                continue
            fields = _rendered(av, n, item, template_variables(ws, av, platform))
            fields["dest"] = _destination(av, n, item, fields)
            per_platform.append(InputPlan(
                av.app, av.version, f"inputs[{n}]", item.kind, _label(item, fields["dest"]),
                tuple(sorted(fields.items(), key=lambda kv: kv[0])), str(platform),
                _expected(av, n, item, platform, fields)))
        if len(per_platform) > 1 and len({(p.spec_digest, p.expect) for p in per_platform}) == 1:
            per_platform = [replace(per_platform[0], platform=ALL)]
        plans += per_platform
    return plans
