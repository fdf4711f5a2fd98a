"""Load a workspace and select what to build: apps, versions (the catalogue's
directory rule) and platforms."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path

from clusterbuild.errors import Failure, InputError, UsageError
from clusterbuild.lockfile import LockFile
from clusterbuild.oci.platform import Platform
from clusterbuild.schema.loading import load_model
from clusterbuild.schema.models import AppSpec, Workspace
from clusterbuild.workspace.context import SPEC_NAME

WORKSPACE_FILE = "apps.yaml"
APPS_DIR = "applications"
LATEST = "latest"


@dataclass(frozen=True)
class LoadedWorkspace:
    root: Path
    config: Workspace
    # each app version read once per run (select runs for the plan and again for the SBOMs);
    # a failure is kept too, so both see the same error
    _versions: dict[tuple[str, str], AppVersion | InputError] = field(
        default_factory=dict, init=False, compare=False, repr=False)
    _lock: list[LockFile] = field(default_factory=list, init=False, compare=False, repr=False)

    def lock(self) -> LockFile:
        """apps.lock as it was when first asked for (read once per run)."""
        if not self._lock:
            self._lock.append(LockFile.read(self.root))
        return self._lock[0]

    @property
    def config_path(self) -> Path:
        return self.root / WORKSPACE_FILE

    @property
    def layout_dir(self) -> Path:
        return self.root / self.config.output.layout


@dataclass(frozen=True)
class AppVersion:
    """One version of one app, with where it comes from and what it builds for."""

    app: str
    version: str
    app_dir: Path
    spec: AppSpec
    spec_path: Path
    platforms: tuple[Platform, ...]
    build_args: tuple[tuple[str, str], ...]  # templated; apps.yaml over clusterbuild.yaml
    releases: tuple[tuple[str, str], ...] = ()  # release name -> tag, as apps.lock pins it

    @property
    def name(self) -> str:
        return f"{self.app}:{self.version}"


def load_workspace(root: Path) -> LoadedWorkspace:
    return LoadedWorkspace(root, load_model(Workspace, root / WORKSPACE_FILE))


def version_dir(ws: LoadedWorkspace, app: str, version: str) -> Path:
    """``applications/<app>/<version>/`` if it exists, else ``latest/`` (the catalogue rule)."""
    base = ws.root / APPS_DIR / app
    for candidate in (base / version, base / LATEST):
        if candidate.is_dir():
            return candidate
    raise InputError(f"{base}: neither {version}/ nor {LATEST}/ exists for {app}:{version}",
                     hint=f"create {base / LATEST} or run `clusterbuild new {app}`")


def _parse_target(ws: LoadedWorkspace, target: str) -> list[tuple[str, str]]:
    app, _, version = target.partition("@")[0].partition(":")
    entry = ws.config.apps.get(app)
    if entry is None:
        close = difflib.get_close_matches(app, list(ws.config.apps), n=1)
        raise InputError(f"{ws.config_path}: unknown app {app!r}",
                         hint=f"did you mean {close[0]!r}?" if close else "add it under apps:")
    return [(app, version)] if version else [(app, v) for v in entry.versions]


def select(ws: LoadedWorkspace, targets: list[str] | tuple[str, ...],
           only: tuple[Platform, ...] = ()) -> tuple[list[AppVersion], list[Failure]]:
    """The app versions to build, and those that cannot be read (a missing directory, a
    bad clusterbuild.yaml): each a failure of its own, so the others still build. Named
    targets must build for ``only``; when building everything, apps with none of the
    ``only`` platforms are left out. An unknown app name is an error of the command."""
    pairs = [p for t in targets for p in _parse_target(ws, t)] if targets else [
        (app, v) for app, entry in ws.config.apps.items() for v in entry.versions]
    pinned = _one_platform(targets)
    selected, failures = [], []
    for app, version in dict.fromkeys(pairs):
        try:
            av = _app_version(ws, app, version)
        except InputError as exc:
            failures.append(Failure(f"{app}:{version}", exc))
            continue
        platforms = tuple(p for p in av.platforms if (not only or p in only)
                          and p in pinned.get((app, version), (p,)))
        if platforms:
            selected.append(replace(av, platforms=platforms))
        elif targets:
            raise InputError(f"{app}:{version} builds for {', '.join(map(str, av.platforms))}, "
                             f"not {', '.join(map(str, only))}", hint="change --platform")
    if only and not selected and not failures:
        known = sorted({str(p) for p in _platforms_of(ws)})
        raise UsageError(f"--platform {', '.join(map(str, only))}: no app builds for it",
                         hint=f"the platforms of apps.yaml are {', '.join(known)}")
    return selected, failures


def _one_platform(targets: list[str] | tuple[str, ...]) -> dict[tuple[str, str], tuple[Platform, ...]]:
    """``APP:VERSION@os/arch`` targets (a CI shard's): the platforms each app version is limited to."""
    out: dict[tuple[str, str], tuple[Platform, ...]] = {}
    for target in targets:
        name, at, platform = target.partition("@")
        if not at:
            continue
        app, _, version = name.partition(":")
        if not version:
            raise InputError(f"target {target!r}: a platform needs the version",
                             hint="write APP:VERSION@os/arch, e.g. nginx:v1@linux/arm64")
        try:
            parsed = Platform.parse(platform)
        except ValueError as exc:
            raise InputError(f"target {target!r}: {exc}", hint="e.g. nginx:v1@linux/arm64") from None
        out[(app, version)] = (*out.get((app, version), ()), parsed)
    return out


def _platforms_of(ws: LoadedWorkspace) -> set[str]:
    return {p for entry in ws.config.apps.values() for p in (entry.platforms or ws.config.platforms)}


def _app_version(ws: LoadedWorkspace, app: str, version: str) -> AppVersion:
    known = ws._versions.get((app, version))
    if known is None:
        try:
            known = _read_app_version(ws, app, version)
        except InputError as exc:
            known = exc
        ws._versions[(app, version)] = known
    if isinstance(known, InputError):
        raise known
    return known


def _read_app_version(ws: LoadedWorkspace, app: str, version: str) -> AppVersion:
    entry = ws.config.apps[app]
    app_dir = version_dir(ws, app, version)
    spec_path = app_dir / SPEC_NAME
    spec = load_model(AppSpec, spec_path) if spec_path.is_file() else AppSpec()
    wanted = [Platform.parse(p) for p in (entry.platforms or ws.config.platforms)]
    if spec.platforms is not None:
        supported = {Platform.parse(p) for p in spec.platforms}
        wanted = [p for p in wanted if p in supported]
    build_arch = app_dir / "build_arch"  # the catalogue's per-app architecture restriction
    if build_arch.is_file():
        arches = set(build_arch.read_text(encoding="utf-8").split())
        wanted = [p for p in wanted if p.architecture in arches]
    if not wanted:
        raise InputError(f"{app}:{version}: none of the platforms in apps.yaml is supported "
                         f"by {spec_path}", hint="align platforms in apps.yaml and clusterbuild.yaml")
    args = dict(spec.build_args) | dict(entry.build_args)
    av = AppVersion(app, version, app_dir, spec, spec_path, tuple(wanted), tuple(sorted(args.items())))
    if spec.releases:
        from clusterbuild.workspace.releases import pinned_releases

        av = replace(av, releases=pinned_releases(ws.lock(), av))
    return av
