"""Prepare each platform build of an app version: its context, inputs and evaluated Kubefile.

Reads local files (through the file-digest memory) and nothing else.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from clusterbuild.errors import ConfigError
from clusterbuild.kubefile.context import Context, ContextFile
from clusterbuild.kubefile.evaluate import evaluate
from clusterbuild.kubefile.parse import RECIPE_NAMES, Recipe, find_recipe, parse_recipe, parse_recipe_text
from clusterbuild.oci.filetree import EntryKind, FileEntry, normalised_mode
from clusterbuild.oci.platform import Platform
from clusterbuild.plan.planner import PlatformBuild
from clusterbuild.schema.models import ArchiveInput, ChartInput, FileInput, TextInput
from clusterbuild.workspace.context import Digester, walk_context
from clusterbuild.workspace.load import AppVersion, LoadedWorkspace
from clusterbuild.workspace.releases import release_variables
from clusterbuild.workspace.templates import render


def template_variables(ws: LoadedWorkspace, av: AppVersion, platform: Platform) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "app": av.app, "version": av.version, "registry": ws.config.registry,
        "os": platform.os, "arch": platform.architecture, "variant": platform.variant,
        "platform": str(platform),
    }
    if av.spec.releases:
        variables["releases"] = release_variables(av)
    return variables


def _relative(ws: LoadedWorkspace, path: Path) -> str:
    return os.path.relpath(path, ws.root)


def _local_file(ws: LoadedWorkspace, av: AppVersion, field: str, src: str, dest: str,
                mode: str | None, variables: dict[str, Any], digests: Digester) -> ContextFile:
    """A workspace file (``src`` relative to the app dir) placed at context path ``dest``."""
    dest = posixpath.normpath(dest)
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
    file_mode = int(mode, 8) if mode else normalised_mode(EntryKind.FILE, st.st_mode)
    digest = digests.digest(_relative(ws, path), path, st)
    return ContextFile(FileEntry(dest, EntryKind.FILE, file_mode, st.st_size, digest), path)


def local_inputs(ws: LoadedWorkspace, av: AppVersion, platform: Platform,
                  digests: Digester) -> dict[str, ContextFile]:
    """Declared workspace files: ``kind: file`` inputs and charts' ``values_file``."""
    variables = template_variables(ws, av, platform)
    out: dict[str, ContextFile] = {}
    for n, item in enumerate(av.spec.inputs):
        if item.platforms is not None and str(platform) not in item.platforms:
            continue
        field = f"inputs[{n}]"
        if isinstance(item, FileInput):
            src = render(item.src, variables, av.spec_path, f"{field}.src")
            dest = render(item.dest, variables, av.spec_path, f"{field}.dest")
            placed = _local_file(ws, av, field, src, dest, item.mode, variables, digests)
        elif isinstance(item, ChartInput) and item.values_file:
            src = render(item.values_file, variables, av.spec_path, f"{field}.values_file")
            placed = _local_file(ws, av, f"{field}.values_file", src,
                                 f"charts/{item.name}.values.yaml", None, variables, digests)
        else:
            continue
        out[placed.entry.path] = placed
    return out


def replaced_dirs(ws: LoadedWorkspace, av: AppVersion, platform: Platform) -> tuple[str, ...]:
    """The dests of inputs with ``replace: true``: what the app dir holds there is left out."""
    variables = template_variables(ws, av, platform)
    dirs = []
    for n, item in enumerate(av.spec.inputs):
        if not isinstance(item, ChartInput | ArchiveInput) or not item.replace:
            continue
        if item.platforms is not None and str(platform) not in item.platforms:
            continue
        if isinstance(item.replace, str):
            dest = render(item.replace, variables, av.spec_path, f"inputs[{n}].replace")
        elif isinstance(item, ChartInput):
            where = render(item.dir, variables, av.spec_path, f"inputs[{n}].dir") if item.dir else "charts"
            dest = where + "/" + render(item.name, variables, av.spec_path, f"inputs[{n}].name")
        else:
            dest = render(item.dest, variables, av.spec_path, f"inputs[{n}].dest")
        dest = posixpath.normpath(dest)
        if dest.startswith(("/", "..")) or dest == ".":
            raise ConfigError(av.spec_path, f"inputs[{n}].replace", f"{dest!r} must be a directory "
                              "inside the build context", hint="e.g. replace: manifests, or true")
        dirs.append(dest)
    return tuple(dirs)


def recipe_of(ws: LoadedWorkspace, av: AppVersion, platform: Platform,
              app_dir_recipe: Callable[[], Recipe] | None = None) -> Recipe:
    """The app's Kubefile: a text input placed at the top as one, else the app dir's
    (``app_dir_recipe`` gives it: one parse for every platform)."""
    variables = template_variables(ws, av, platform)
    for n, item in enumerate(av.spec.inputs):
        wanted = item.platforms is None or str(platform) in item.platforms
        if not isinstance(item, TextInput) or not wanted:
            continue
        if render(item.dest, variables, av.spec_path, f"inputs[{n}].dest") in RECIPE_NAMES:
            text = render(item.text, variables, av.spec_path, f"inputs[{n}].text")
            return parse_recipe_text(text, av.spec_path.with_name(f"{av.spec_path.name}:inputs[{n}]"))
    return app_dir_recipe() if app_dir_recipe is not None else parse_recipe(find_recipe(av.app_dir))


def prepare(ws: LoadedWorkspace, av: AppVersion, digests: Digester,
            fetched: dict[Platform, dict[str, ContextFile]] | None = None) -> list[PlatformBuild]:
    """Each platform's build: the app dir, declared local files and ``fetched`` remote
    inputs (already unpacked in the store) as its context, and its evaluated Kubefile."""
    base = walk_context(av.app_dir, digests, _relative(ws, av.app_dir))
    app_dir_recipe = cache(lambda: parse_recipe(find_recipe(av.app_dir)))
    builds = []
    for platform in av.platforms:
        args = build_args(ws, av, platform)
        context: Context = base.without(replaced_dirs(ws, av, platform))
        context = context.overlay(local_inputs(ws, av, platform, digests))
        context = context.overlay((fetched or {}).get(platform, {}))
        evaluated = evaluate(recipe_of(ws, av, platform, app_dir_recipe), platform, args)
        builds.append(PlatformBuild(av.app, av.version, platform, evaluated, context))
    return builds


def build_args(ws: LoadedWorkspace, av: AppVersion, platform: Platform) -> dict[str, str]:
    """The Kubefile ARG values of ``av`` for ``platform``, templates rendered."""
    variables = template_variables(ws, av, platform)
    return {k: _render_arg(ws, av, k, v, variables) for k, v in av.build_args}


def _render_arg(ws: LoadedWorkspace, av: AppVersion, name: str, value: str,
                variables: dict[str, Any]) -> str:
    if name in ws.config.apps[av.app].build_args:
        return render(value, variables, ws.config_path, f"apps.{av.app}.build_args.{name}")
    return render(value, variables, av.spec_path, f"build_args.{name}")
