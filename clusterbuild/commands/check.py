"""``clusterbuild check``: every app version validated offline, fetching nothing, every problem
listed (not only the first), each as one line naming the file, the field and the fix.

Per app: its README exists (``applications/<app>/README.md``). Per app version and platform:
the version resolves to a directory; clusterbuild.yaml validates; every template renders
(build args, inputs, images.extra); declared local files exist; the Kubefile evaluates
against the directory's files plus the destinations its remote inputs declare (charts/<name>,
dest) and the registry/ tree clusterbuild generates; every COPY source will exist; the files
CMD/ENTRYPOINT name will be in the image; HELM_OPTS parse and the values files they name
exist. Apps built by their init.sh are checked for what exists before the script runs.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterbuild.errors import ClusterbuildError, ConfigError, InputError
from clusterbuild.kubefile.context import Context, ContextFile
from clusterbuild.kubefile.copy import resolve_copy
from clusterbuild.kubefile.evaluate import BuildRecipe, CopyOp, evaluate
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry
from clusterbuild.oci.platform import Platform
from clusterbuild.settings import Settings
from clusterbuild.workspace.context import walk_context
from clusterbuild.workspace.derived import copies, late_dest, late_texts, renders
from clusterbuild.workspace.inputs import remote_inputs
from clusterbuild.workspace.legacy import SCRIPT, is_legacy
from clusterbuild.workspace.load import APPS_DIR, AppVersion, LoadedWorkspace, select
from clusterbuild.workspace.prepare import (
    build_args,
    local_inputs,
    recipe_of,
    replaced_dirs,
    template_variables,
)
from clusterbuild.workspace.scanning import read_values, shipped_extra
from clusterbuild.workspace.templates import render

README = "README.md"
REGISTRY_DIR = "registry"
_VAR = re.compile(r"\$\((\w+)\)|\$\{(\w+)\}|\$(\w+)")
_PATH_LIKE = re.compile(r"^(\./)?[\w.-]+(/[\w.*-]*)*$")
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}(:\d+)?$")
_FILE_SUFFIXES = (".sh", ".yaml", ".yml", ".json", ".tgz", ".tar", ".tmpl")


@dataclass
class CheckReport:
    checked: list[str] = field(default_factory=list)  # app versions checked
    problems: list[str] = field(default_factory=list)  # one line each


class _NoHash:
    """Digests for the check: contents do not matter, only which files exist."""

    def digest(self, rel: str, path: Path, st: os.stat_result) -> Digest:
        return Digest.of_bytes(rel.encode())


def _collect(report: CheckReport, work: Callable[[], object]) -> None:
    try:
        work()
    except ClusterbuildError as exc:
        report.problems.append(str(exc))


def check_workspace(settings: Settings, ws: LoadedWorkspace) -> CheckReport:
    report = CheckReport()
    selected, failures = select(ws, settings.targets, settings.platforms)
    report.problems += [str(f) for f in failures]
    for app in dict.fromkeys(av.app for av in selected):
        readme = ws.root / APPS_DIR / app / README
        if not readme.is_file():
            report.problems.append(f"{readme}: missing (hint: say what {app} installs, the versions "
                                   "built, the -e/HELM_OPTS knobs and how to uninstall)")
    for av in selected:
        report.checked.append(av.name)
        for problem in _check_version(ws, av):
            if problem not in report.problems:
                report.problems.append(problem)
    return report


def _check_version(ws: LoadedWorkspace, av: AppVersion) -> Iterator[str]:
    if is_legacy(av):
        if not (av.app_dir / SCRIPT).is_file():
            yield f"{av.app_dir}: no {SCRIPT} and no clusterbuild.yaml (hint: declare the inputs)"
        return  # the Kubefile may be written by the script: checked when it runs
    report = CheckReport()
    _collect(report, lambda: remote_inputs(ws, av))
    if report.problems:
        yield from report.problems
        return
    for platform in av.platforms:
        yield from _check_platform(ws, av, platform)


def _check_platform(ws: LoadedWorkspace, av: AppVersion, platform: Platform) -> Iterator[str]:
    report = CheckReport()
    try:
        context = _context(ws, av, platform)
        recipe = evaluate(recipe_of(ws, av, platform), platform, build_args(ws, av, platform))
    except ClusterbuildError as exc:
        yield str(exc)
        return
    image_files = _copies(recipe, context, report)
    _collect(report, lambda: _check_helm_opts(av, recipe, context))
    _collect(report, lambda: shipped_extra(ws, av, platform))
    report.problems += _check_command(av, recipe, image_files, _unlisted_dirs(ws, av, platform))
    yield from report.problems


def _context(ws: LoadedWorkspace, av: AppVersion, platform: Platform) -> Context:
    """The directory's files, its declared local files, and where each remote input lands."""
    base = walk_context(av.app_dir, _NoHash(), str(av.app_dir.relative_to(ws.root)))
    context = base.without(replaced_dirs(ws, av, platform)).overlay(local_inputs(ws, av, platform, _NoHash()))
    declared: dict[str, ContextFile] = {REGISTRY_DIR: _dir(REGISTRY_DIR)}
    for plan in remote_inputs(ws, av):
        if plan.platform not in ("*", str(platform)):
            continue
        dest = str(plan.fields["dest"])
        if plan.kind == "chart":
            declared[dest] = _dir(dest)
            declared[f"{dest}/Chart.yaml"] = _file(f"{dest}/Chart.yaml")
        elif plan.kind == "archive":
            declared[dest] = _dir(dest)
        else:
            declared[dest] = _file(dest)
    for n, item in late_texts(av):  # rendered with placeholders for the values read at build time
        if item.platforms is None or str(platform) in item.platforms:
            variables: dict[str, Any] = dict(template_variables(ws, av, platform))
            variables["read"] = read_values(av, variables, None)
            render(item.text, variables, av.spec_path, f"inputs[{n}].text")
            declared[late_dest(ws, av, n, item, variables)] = _file("late")
    for n, copied in copies(av):  # what it holds is known once the inputs are fetched
        if copied.platforms is None or str(platform) in copied.platforms:
            dest = posixpath.normpath(render(copied.dest, dict(template_variables(ws, av, platform)),
                                             av.spec_path, f"inputs[{n}].dest"))
            declared[dest] = _dir(dest) if copied.contents or "." not in posixpath.basename(dest) \
                else _file(dest)
    archived = [p for p, e in declared.items()  # archive dests: what they hold is not known here
                if e.entry.kind is EntryKind.DIR and f"{p}/Chart.yaml" not in declared]
    for n, rendered in renders(av):  # a chart rendered at build time: its file is there
        if rendered.platforms is None or str(platform) in rendered.platforms:
            variables = dict(template_variables(ws, av, platform))
            chart = posixpath.normpath(render(rendered.chart, variables, av.spec_path, f"inputs[{n}].chart"))
            if not any(f"{chart}/Chart.yaml" in files for files in (context.files, declared)) \
                    and not any(chart.startswith(d.rstrip("/") + "/") or chart == d for d in archived):
                raise ConfigError(av.spec_path, f"inputs[{n}].chart", f"{chart} is not a chart of the build "
                                  "context", hint="name the directory a chart input unpacks into "
                                  "(charts/<name>) or a chart of the app dir")
            dest = posixpath.normpath(render(rendered.dest, variables, av.spec_path, f"inputs[{n}].dest"))
            declared[dest] = _file("render")
    return context.overlay(declared)


def _unlisted_dirs(ws: LoadedWorkspace, av: AppVersion, platform: Platform) -> tuple[str, ...]:
    """Where archive inputs unpack and copy inputs copy: what lies under them is known only once
    the inputs are fetched."""
    archives = tuple(str(plan.fields["dest"]).rstrip("/") for plan in remote_inputs(ws, av)
                     if plan.kind == "archive" and plan.platform in ("*", str(platform)))
    variables = template_variables(ws, av, platform)
    copied = tuple(render(item.dest, variables, av.spec_path, f"inputs[{n}].dest") for n, item in copies(av)
                   if item.platforms is None or str(platform) in item.platforms)
    return archives + tuple(posixpath.normpath(dest) for dest in copied)


def _dir(path: str) -> ContextFile:
    return ContextFile(FileEntry(path, EntryKind.DIR, 0o755), None)


def _file(path: str) -> ContextFile:
    return ContextFile(FileEntry(path, EntryKind.FILE, 0o644, 0, Digest.of_bytes(path.encode())), None)


def _copies(recipe: BuildRecipe, context: Context, report: CheckReport) -> set[str]:
    """Every path the image will hold; each COPY whose sources are missing is a problem."""
    image_dirs: set[str] = set()
    paths: set[str] = set()
    for step in recipe.steps:
        if not isinstance(step, CopyOp):
            continue
        try:
            placed = resolve_copy(step, context, image_dirs)
        except InputError as exc:
            report.problems.append(str(exc))
            continue
        for item in placed:
            paths.add(item.entry.path)
            if item.entry.kind is EntryKind.DIR:
                image_dirs.add(item.entry.path)
    return paths


def _check_helm_opts(av: AppVersion, recipe: BuildRecipe, context: Context) -> None:
    from clusterbuild.discover.helm_opts import helm_opts_from_env

    pairs = helm_opts_from_env(dict(recipe.env))
    for flag, value in zip(pairs[::2], pairs[1::2], strict=True):
        if flag == "-f" and value.removeprefix("./") not in context.files:
            raise InputError(f"{av.app_dir / 'Kubefile'}: ENV HELM_OPTS: -f {value} is not in the build "
                             "context", hint="add the values file to the app dir or declare it")


def _expand(text: str, env: dict[str, str]) -> str:
    """``text`` with the ENV values sealos would put in; Helm options (checked on their own)
    are left as variables."""
    from clusterbuild.discover.helm_opts import is_helm_opts

    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        return match.group(0) if is_helm_opts(name) else env.get(name, match.group(0))
    return _VAR.sub(value, text)


def _named_paths(command: str) -> Iterator[str]:
    """Words of a shell command that name files relative to the image root (what ``echo`` and
    ``printf`` print, and image references, are not files)."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    printing = False
    for word in words:
        if word in ("echo", "printf"):
            printing = True
        elif word in (";", "&&", "||", "|") or word.endswith((";", "&&")):
            printing = False
        clean = word.rstrip(";&|")
        if printing or "$" in clean or clean.startswith(("-", "/")) or not _PATH_LIKE.match(clean):
            continue
        if "/" in clean and _HOST.match(clean.split("/", 1)[0]):
            continue  # an image reference: docker.io/library/busybox
        if "/" in clean.strip("./") or clean.endswith(_FILE_SUFFIXES):
            yield clean.removeprefix("./").rstrip("/")


def _check_command(av: AppVersion, recipe: BuildRecipe, image_files: set[str],
                   unlisted: tuple[str, ...] = ()) -> list[str]:
    env = dict(recipe.env)
    commands = [*(recipe.entrypoint or ()), *(recipe.cmd or ())]
    rendered = {p.removesuffix(".tmpl") for p in image_files if p.endswith(".tmpl")}
    problems = []
    for command in commands:
        for path in _named_paths(_expand(command, env)):
            if any(c in path for c in "*?[") or path in image_files or path in rendered:
                continue
            if any(path.startswith(d + "/") and d in image_files for d in unlisted):
                continue  # inside an archive's directory, which the check cannot list
            if "/" not in path and not path.endswith(_FILE_SUFFIXES):
                continue
            problems.append(f"{av.app_dir / 'Kubefile'}: CMD: {command!r} names {path}, which the image "
                            "will not hold (hint: COPY it, or fix the name)")
    return problems
