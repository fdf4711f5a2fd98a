"""Prepare each platform build of an app version: its context, inputs and evaluated Kubefile.

Reads local files (through the file-digest memory) and nothing else.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path

from clusterbuild.errors import ConfigError
from clusterbuild.kubefile.evaluate import evaluate
from clusterbuild.kubefile.parse import find_recipe, parse_recipe
from clusterbuild.oci.filetree import EntryKind, FileEntry, normalised_mode
from clusterbuild.oci.platform import Platform
from clusterbuild.plan.planner import PlatformBuild
from clusterbuild.schema.models import FileInput
from clusterbuild.workspace.context import Context, ContextFile, Digester, walk_context
from clusterbuild.workspace.load import AppVersion, LoadedWorkspace
from clusterbuild.workspace.templates import render


def template_variables(ws: LoadedWorkspace, av: AppVersion, platform: Platform) -> dict[str, str]:
    return {
        "app": av.app, "version": av.version, "registry": ws.config.registry,
        "os": platform.os, "arch": platform.architecture, "variant": platform.variant,
        "platform": str(platform),
    }


def _relative(ws: LoadedWorkspace, path: Path) -> str:
    return os.path.relpath(path, ws.root)


def _file_input(ws: LoadedWorkspace, av: AppVersion, n: int, item: FileInput,
                variables: dict[str, str], digests: Digester) -> ContextFile:
    field = f"inputs[{n}]"
    src = render(item.src, variables, av.spec_path, f"{field}.src")
    dest = posixpath.normpath(render(item.dest, variables, av.spec_path, f"{field}.dest"))
    if dest.startswith(("/", "..")) or dest == ".":
        raise ConfigError(av.spec_path, f"{field}.dest", f"{dest!r} must be a relative path "
                          "inside the build context", hint="e.g. opt/helm")
    path = (av.app_dir / src).resolve()
    if not path.is_relative_to(ws.root.resolve()):
        raise ConfigError(av.spec_path, f"{field}.src", f"{src!r} is outside the workspace",
                          hint="keep declared files inside the workspace")
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(av.spec_path, f"{field}.src", f"{src!r} does not exist "
                          f"(for {variables['platform']})", hint="check the path") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(av.spec_path, f"{field}.src", f"{src!r} is not a regular file")
    mode = int(item.mode, 8) if item.mode else normalised_mode(EntryKind.FILE, st.st_mode)
    digest = digests.digest(_relative(ws, path), path, st)
    return ContextFile(FileEntry(dest, EntryKind.FILE, mode, st.st_size, digest), path)


def _inputs(ws: LoadedWorkspace, av: AppVersion, platform: Platform,
            digests: Digester) -> dict[str, ContextFile]:
    variables = template_variables(ws, av, platform)
    out: dict[str, ContextFile] = {}
    for n, item in enumerate(av.spec.inputs):
        if item.platforms is not None and str(platform) not in item.platforms:
            continue
        placed = _file_input(ws, av, n, item, variables, digests)
        out[placed.entry.path] = placed
    return out


def prepare(ws: LoadedWorkspace, av: AppVersion, digests: Digester) -> list[PlatformBuild]:
    recipe = parse_recipe(find_recipe(av.app_dir))
    base = walk_context(av.app_dir, digests, _relative(ws, av.app_dir))
    builds = []
    for platform in av.platforms:
        variables = template_variables(ws, av, platform)
        args = {k: _render_arg(ws, av, k, v, variables) for k, v in av.build_args}
        context: Context = base.overlay(_inputs(ws, av, platform, digests))
        evaluated = evaluate(recipe, platform, args)
        builds.append(PlatformBuild(av.app, av.version, platform, evaluated, context))
    return builds


def _render_arg(ws: LoadedWorkspace, av: AppVersion, name: str, value: str,
                variables: dict[str, str]) -> str:
    if name in ws.config.apps[av.app].build_args:
        return render(value, variables, ws.config_path, f"apps.{av.app}.build_args.{name}")
    return render(value, variables, av.spec_path, f"build_args.{name}")
