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
from pathlib import Path

from clusterbuild.errors import InputError
from clusterbuild.kubefile.context import Context
from clusterbuild.kubefile.evaluate import evaluate
from clusterbuild.kubefile.parse import RECIPE_NAMES, parse_recipe_text
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind
from clusterbuild.oci.platform import Platform
from clusterbuild.plan.planner import PlatformBuild
from clusterbuild.plan.results import FilesResult
from clusterbuild.plan.sources import script_step
from clusterbuild.plan.steps import ScriptStep
from clusterbuild.workspace.context import Digester, walk_context
from clusterbuild.workspace.fetched import context_files
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


def script_steps(ws: LoadedWorkspace, av: AppVersion, digests: Digester) -> tuple[ScriptStep, ...]:
    """One ``init.sh`` run per platform, keyed by the script, the dir, the arguments, the tools."""
    entry = ws.config.apps[av.app]
    script = (av.app_dir / SCRIPT).read_text(encoding="utf-8", errors="replace")
    tools = tools_called(script)
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise InputError(f"{av.app_dir / SCRIPT}: calls {', '.join(missing)}, not found on PATH",
                         hint=f"install {', '.join(missing)} (the script needs them)")
    refresh = str(int(time.time() // entry.script_ttl)) if entry.script_ttl else ""
    context = walk_context(av.app_dir, digests, str(av.app_dir.relative_to(ws.root)))
    files = tuple(sorted((p, f.entry.fingerprint()) for p, f in context.files.items()))
    identities = tuple((t, _tool_identity(t)) for t in tools)
    return tuple(script_step(av.app, av.version, platform, files=files, tools=identities,
                             refresh=refresh, app_dir=av.app_dir, timeout=entry.script_timeout)
                 for platform in av.platforms)


def build_from_outputs(ws: LoadedWorkspace, av: AppVersion, platform: Platform, result: FilesResult,
                       blob_path: Callable[[Digest], Path]) -> PlatformBuild:
    """The build of ``platform`` from what its init.sh left (the Kubefile included)."""
    files = context_files(result, blob_path)
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
