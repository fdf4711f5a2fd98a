"""Catalogue apps built by their ``init.sh``, unmodified.

An app directory with ``init.sh`` and no ``clusterbuild.yaml`` is built the way the
catalogue's CI builds it: per platform, ``bash init.sh <arch> <app> <version>`` runs in a
scratch copy of the directory, and what it leaves (including a Kubefile it may write) is
the build context. The script step is keyed by the script, the directory, the arguments
and the tools it calls; its outputs are pinned in apps.lock.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterbuild.errors import InputError
from clusterbuild.kubefile.evaluate import evaluate
from clusterbuild.kubefile.parse import RECIPE_NAMES, parse_recipe_text
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind
from clusterbuild.oci.platform import Platform
from clusterbuild.plan.planner import PlatformBuild
from clusterbuild.plan.steps import ScriptStep, Step
from clusterbuild.workspace.context import Context, Digester, walk_context
from clusterbuild.workspace.fetched import InputRecords, context_files
from clusterbuild.workspace.load import AppVersion, LoadedWorkspace
from clusterbuild.workspace.prepare import build_args

SCRIPT = "init.sh"
TOOLS = ("helm", "yq", "jq", "wget", "curl", "tar", "sed", "awk", "git", "skopeo", "sealos")


def is_legacy(av: AppVersion) -> bool:
    return (av.app_dir / SCRIPT).is_file() and not av.spec_path.is_file()


def tools_called(script: str) -> list[str]:
    """The tools of interest the script calls (a word at a command position)."""
    return sorted(t for t in TOOLS if re.search(rf"(^|[\s;|&(`$]){re.escape(t)}(\s|$)", script, re.M))


def _tool_identity(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        return "missing"
    st = Path(path).resolve().stat()
    return f"{Path(path).resolve()} {st.st_size} {st.st_mtime_ns}"


@dataclass
class LegacyApp:
    steps: list[Step] = field(default_factory=list)
    builds: list[PlatformBuild] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


def script_step(ws: LoadedWorkspace, av: AppVersion, platform: Platform, context: Context) -> ScriptStep:
    entry = ws.config.apps[av.app]
    script = (av.app_dir / SCRIPT).read_text(encoding="utf-8", errors="replace")
    tools = tools_called(script)
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise InputError(f"{av.app_dir / SCRIPT}: calls {', '.join(missing)}, not found on PATH",
                         hint=f"install {', '.join(missing)} (the script needs them)")
    refresh = str(int(time.time() // entry.script_ttl)) if entry.script_ttl else ""
    files = tuple(sorted((p, f.entry.fingerprint()) for p, f in context.files.items()))
    return ScriptStep(
        app=av.app, version=av.version, platforms=(platform,),
        slot=f"script/{av.app}/{av.version}/{platform}/0", files=files,
        args=(platform.architecture, av.app, av.version),
        tools=tuple((t, _tool_identity(t)) for t in tools), refresh=refresh,
        app_dir=av.app_dir, timeout=entry.script_timeout)


def _build_from_outputs(ws: LoadedWorkspace, av: AppVersion, platform: Platform,
                        record: dict[str, Any], blob_path: Callable[[Digest], Path]) -> PlatformBuild:
    files = context_files(record, blob_path)
    context = Context(av.app_dir, {}).overlay(files)
    for name in RECIPE_NAMES:
        item = files.get(name)
        if item is not None and item.entry.kind is EntryKind.FILE and item.source is not None:
            recipe = parse_recipe_text(item.source.read_text(encoding="utf-8"),
                                       av.app_dir / f"{name} (as init.sh left it)")
            args = build_args(ws, av, platform)
            return PlatformBuild(av.app, av.version, platform, evaluate(recipe, platform, args), context)
    raise InputError(f"{av.app_dir}: init.sh for {platform} left no Kubefile",
                     hint="write a Kubefile in the app dir or have init.sh generate one")


def plan_legacy(ws: LoadedWorkspace, av: AppVersion, digests: Digester, records: InputRecords,
                blob_path: Callable[[Digest], Path]) -> LegacyApp:
    base = walk_context(av.app_dir, digests, str(av.app_dir.relative_to(ws.root)))
    out = LegacyApp()
    for platform in av.platforms:
        step = script_step(ws, av, platform, base)
        out.steps.append(step)
        record = records.result(step.key)
        if record is None or not records.outputs_present(step, record):
            out.blocked.append(f"{av.app}:{av.version} [{platform}]: init.sh must run")
            continue
        out.builds.append(_build_from_outputs(ws, av, platform, record, blob_path))
    return out
