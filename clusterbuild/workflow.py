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
from clusterbuild.errors import InputError
from clusterbuild.execute.pulling import lazy_registry
from clusterbuild.execute.records import CacheRecords
from clusterbuild.execute.runner import Progress, StepRun, run_plan
from clusterbuild.oci.platform import Platform
from clusterbuild.places.layout import OciLayout
from clusterbuild.plan.graph import Plan
from clusterbuild.plan.planner import PlanOptions, plan_builds
from clusterbuild.plan.status import Assessment, assess
from clusterbuild.plan.steps import ExportStep
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


@dataclass(frozen=True)
class Planned:
    workspace: LoadedWorkspace
    plan: Plan
    assessments: dict[str, Assessment]


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
    records = CacheRecords(index, BlobStore(settings.cache_dir))
    builds = []
    images = {}
    for av in select(ws, list(settings.targets), settings.platforms):
        app_builds = prepare(ws, av, digests)
        builds += app_builds
        images[(av.app, av.version)] = scan_app(ws, av, app_builds[0], records)
    archives = ws.layout_dir / "archives"
    oci = settings.archive or ws.config.output.archive
    docker = settings.docker_archive or ws.config.output.docker_archive
    push_to = (settings.push_to or ws.config.registry) if settings.push else None
    options = PlanOptions(registry=ws.config.registry, layout=ws.layout_dir,
                          archive_dir=archives if oci else None,
                          docker_archive_dir=archives if docker else None,
                          mtime=source_date_epoch(), push_to=push_to)
    plan = plan_builds(builds, options, images)
    return Planned(ws, plan, assess(plan, records)), digests


def plan_workspace(settings: Settings) -> Planned:
    index = CacheIndex(settings.cache_dir)
    try:
        return _plan(settings, index, index)[0]
    finally:
        index.close()


def apply_workspace(settings: Settings, progress: Progress) -> Applied:
    start = time.perf_counter()
    index = CacheIndex(settings.cache_dir)
    try:
        planned, digests = _plan(settings, index, index)
        store = BlobStore(settings.cache_dir)
        store.clean_temp()
        digests.save()
        ran = run_plan(planned.plan, planned.assessments, CacheRecords(index, store),
                       settings.jobs, progress, lazy_registry(planned.workspace, settings))
        if any(isinstance(r.step, ExportStep) for r in ran):
            OciLayout(planned.workspace.layout_dir).prune()  # blobs of replaced images
    finally:
        index.close()
    return Applied(planned, ran, time.perf_counter() - start)
