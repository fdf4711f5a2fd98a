"""The commands' work, without the terminal: load → prepare → plan → assess → run.

``plan_workspace`` reads only (files, the cache index); ``apply_workspace``
runs the stale steps and remembers file digests.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from clusterbuild.cache.file_digests import FileDigests
from clusterbuild.cache.results import CacheIndex
from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError, InputError
from clusterbuild.execute.downloads import lazy_downloads, make_downloads
from clusterbuild.execute.fetching import Downloads
from clusterbuild.execute.locking import (
    LockChange,
    check_script_lock,
    lock_images,
    lock_inputs,
    pin_images,
    record_script_outputs,
)
from clusterbuild.execute.on_first_use import OnFirstUse
from clusterbuild.execute.pulling import lazy_registry
from clusterbuild.execute.records import CacheRecords
from clusterbuild.execute.runner import NoProgress, Progress, StepRun, run_plan
from clusterbuild.lockfile import LockFile
from clusterbuild.oci.platform import Platform
from clusterbuild.places.layout import OciLayout
from clusterbuild.plan.graph import Plan
from clusterbuild.plan.planner import PlanOptions, plan_builds
from clusterbuild.plan.status import Assessment, assess
from clusterbuild.plan.steps import ExportStep, ScanStep
from clusterbuild.workspace.fetched import pinned, plan_inputs
from clusterbuild.workspace.inputs import InputPlan, remote_inputs
from clusterbuild.workspace.legacy import is_legacy, plan_legacy
from clusterbuild.workspace.load import LoadedWorkspace, load_workspace, select
from clusterbuild.workspace.prepare import prepare
from clusterbuild.workspace.scanning import scan_app


@dataclass(frozen=True)
class Settings:
    workspace: Path
    cache_dir: Path
    targets: tuple[str, ...] = ()
    platforms: tuple[Platform, ...] = ()
    archive: bool = False
    docker_archive: bool = False
    jobs: int = os.cpu_count() or 2
    insecure_registries: tuple[str, ...] = ()
    push: bool = False
    push_to: str | None = None  # repository prefix overriding apps.yaml's registry
    frozen: bool = False  # CI: apps.lock must pin every input; it is never changed


@dataclass(frozen=True)
class Planned:
    workspace: LoadedWorkspace
    plan: Plan
    assessments: dict[str, Assessment]
    blocked: tuple[str, ...] = ()  # app versions whose build waits for remote inputs, and why


@dataclass(frozen=True)
class Applied:
    planned: Planned
    ran: list[StepRun]
    seconds: float


def source_date_epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "0")
    if not value.isdigit():
        raise InputError(f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds",
                         hint="unset it or set it to e.g. 0")
    return int(value)


def _plan(settings: Settings, index: CacheIndex, digests_index: CacheIndex | None
          ) -> tuple[Planned, FileDigests]:
    ws = load_workspace(settings.workspace)
    digests = FileDigests(digests_index, ws.root)
    store = BlobStore(settings.cache_dir)
    records = CacheRecords(index, store)
    lock = LockFile.read(ws.root)
    builds, images, input_steps, blocked = [], {}, [], []
    for av in select(ws, list(settings.targets), settings.platforms):
        if is_legacy(av):
            legacy = plan_legacy(ws, av, digests, records, store.path)
            check_script_lock(legacy.steps, lock, settings.frozen)
            input_steps += legacy.steps
            blocked += legacy.blocked
            if legacy.blocked:
                continue
            app_builds = legacy.builds
        else:
            fetched = plan_inputs(ws, av, lock, records, store.path)
            input_steps += fetched.steps
            if fetched.blocked:
                blocked += fetched.blocked
                continue
            app_builds = prepare(ws, av, digests, fetched.files)
        builds += app_builds
        images[(av.app, av.version)] = pin_images(scan_app(ws, av, app_builds[0], records), lock,
                                                  settings.frozen)
    plan = plan_builds(builds, _options(settings, ws), images, input_steps)
    return Planned(ws, plan, assess(plan, records), tuple(blocked)), digests


def _options(settings: Settings, ws: LoadedWorkspace) -> PlanOptions:
    archives = ws.layout_dir / "archives"
    oci = settings.archive or ws.config.output.archive
    docker = settings.docker_archive or ws.config.output.docker_archive
    push_to = (settings.push_to or ws.config.registry) if settings.push else None
    return PlanOptions(registry=ws.config.registry, layout=ws.layout_dir,
                       archive_dir=archives if oci else None,
                       docker_archive_dir=archives if docker else None,
                       mtime=source_date_epoch(), push_to=push_to)


def plan_workspace(settings: Settings) -> Planned:
    index = CacheIndex(settings.cache_dir)
    try:
        return _plan(settings, index, index)[0]
    finally:
        index.close()


def input_plans(settings: Settings) -> tuple[LoadedWorkspace, list[InputPlan]]:
    ws = load_workspace(settings.workspace)
    plans = [p for av in select(ws, list(settings.targets), settings.platforms)
             for p in remote_inputs(ws, av)]
    return ws, plans


def lock_workspace(settings: Settings, update: bool = False, images: bool = False) -> list[LockChange]:
    """Pin the remote inputs of the selected apps in apps.lock (network); with ``images``, also
    the images they ship (apps whose inputs are not fetched yet get theirs at first apply)."""
    ws, plans = input_plans(settings)
    lock = LockFile.read(ws.root)
    if settings.frozen:
        unpinned = [why for p in plans if isinstance(why := pinned(p, lock), str)]
        if unpinned:
            raise InputError(f"{lock.path}: {unpinned[0]}" + (f" (and {len(unpinned) - 1} more)"
                             if len(unpinned) > 1 else ""),
                             hint="run `clusterbuild lock` and commit apps.lock (--frozen never "
                                  "changes it)")
        return []
    todo = [p for p in plans if update or isinstance(pinned(p, lock), str)]
    if not todo and not images:
        return []
    with make_downloads(ws, settings) as downloads:
        changes = lock_inputs(todo, lock, downloads, BlobStore(settings.cache_dir), update)
        if images:
            lock.write()
            changes += lock_images(shipped_images(_fetch_inputs(settings)), lock, downloads, update)
    lock.write()
    return changes


def _fetch_inputs(settings: Settings) -> Planned:
    """Fetch and unpack the pinned remote inputs, so that every app can be scanned; the plan after."""
    index = CacheIndex(settings.cache_dir)
    ws = load_workspace(settings.workspace)
    registry, downloads = lazy_registry(ws, settings), lazy_downloads(ws, settings)
    try:
        planned, _ = _plan(settings, index, index)
        if planned.blocked:
            run_plan(planned.plan, planned.assessments, CacheRecords(index, BlobStore(settings.cache_dir)),
                     settings.jobs, NoProgress(), registry, downloads, frozenset({"fetch", "unpack"}))
            planned, _ = _plan(settings, index, index)
        return planned
    finally:
        registry.close()
        downloads.close()
        index.close()


def shipped_images(planned: Planned) -> list[str]:
    """Every image reference the plan's scans found (what registry/ trees will hold)."""
    return [str(image["reference"]) for step in planned.plan.steps
            if isinstance(step, ScanStep) for image in step.found]


def _pin_new_images(planned: Planned, ws: LoadedWorkspace, downloads: OnFirstUse[Downloads]) -> bool:
    """Pin images the scans found that apps.lock does not pin yet (before pulling them)."""
    lock = LockFile.read(ws.root)
    references = shipped_images(planned)
    if all(ref in lock.images for ref in references):
        return False
    lock_images(references, lock, downloads())
    lock.write()
    return True


def apply_workspace(settings: Settings, progress: Progress) -> Applied:
    """Lock what is not pinned (unless frozen), then run stale steps; when remote inputs
    were only just fetched, plan again with their files and run the rest."""
    start = time.perf_counter()
    lock_workspace(settings)
    ran: list[StepRun] = []
    index = CacheIndex(settings.cache_dir)
    ws = load_workspace(settings.workspace)
    registry, downloads = lazy_registry(ws, settings), lazy_downloads(ws, settings)
    try:
        for _ in range(2):
            planned, digests = _plan(settings, index, index)
            if not settings.frozen and _pin_new_images(planned, ws, downloads):
                planned, digests = _plan(settings, index, index)
            store = BlobStore(settings.cache_dir)
            store.clean_temp()
            digests.save()
            this_round = run_plan(planned.plan, planned.assessments, CacheRecords(index, store),
                                  settings.jobs, progress, registry, downloads)
            record_script_outputs(this_round, index, LockFile.read(ws.root), settings.frozen)
            ran += this_round
            if not planned.blocked:
                break
        if planned.blocked:
            raise BuildError(f"still blocked after fetching: {planned.blocked[0]}")
        if any(isinstance(r.step, ExportStep) for r in ran):
            OciLayout(ws.layout_dir).prune()  # blobs of replaced images
    finally:
        registry.close()
        downloads.close()
        index.close()
    return Applied(planned, ran, time.perf_counter() - start)
