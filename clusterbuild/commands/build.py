"""``plan``, ``images``, ``apply`` and ``lock``: the phases (``phases``) run once each.

    plan / images   select → sources (assessed) → builds → scan → plan → assess
    lock            select → sources (pinned, fetched) → builds → scan → pin images
    apply           lock's phases (unless --frozen: checked, never written) → plan → run

``apply`` and ``lock`` hold the workspace exclusively; every command holds a shared lease
on the cache (``locks``). Broken app versions are in ``failures``; the rest is built.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from clusterbuild.cache.leftovers import remove_leftovers
from clusterbuild.cache.roots import record_root
from clusterbuild.commands.locks import hold_cache, hold_workspace
from clusterbuild.commands.phases import (
    Prepared,
    build_plan,
    consult_remote,
    gather_sources,
    pin_all_images,
    prepare_apps,
    run_builds,
    run_sources,
    select_apps,
)
from clusterbuild.commands.run import Mode, Run, opened
from clusterbuild.errors import BuildError, Failure
from clusterbuild.execute.events import phase
from clusterbuild.execute.locking import LockChange, pin_images
from clusterbuild.execute.runner import NoProgress, Progress, StepRun
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor
from clusterbuild.places.layout import OciLayout
from clusterbuild.plan.graph import Plan
from clusterbuild.plan.planner import AppImages
from clusterbuild.plan.results import ExportResult, PushResult, ScanResult
from clusterbuild.plan.status import Assessment, assess
from clusterbuild.plan.steps import ExportStep, PushStep
from clusterbuild.settings import Settings
from clusterbuild.workspace.load import LoadedWorkspace

if TYPE_CHECKING:
    from clusterbuild.places.referrers import Attached
    from clusterbuild.places.signatures import Signed

Notify = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Planned:
    workspace: LoadedWorkspace
    plan: Plan
    assessments: dict[str, Assessment]
    blocked: tuple[str, ...] = ()  # app versions whose build waits for remote inputs, and why
    failures: tuple[Failure, ...] = ()  # broken app versions (left out of the plan)
    warnings: tuple[str, ...] = ()
    renders: int = 0  # charts rendered to scan (0 when every scan was recorded)
    found: Mapping[str, ScanResult] = field(default_factory=dict)  # scan step key -> its images
    shipped: Mapping[tuple[str, str], AppImages] = field(default_factory=dict)  # (app, version) -> images


@dataclass(frozen=True)
class Applied:
    planned: Planned
    ran: list[StepRun]
    seconds: float
    exported: tuple[tuple[str, Descriptor], ...] = ()  # every image placed in the layout
    failures: tuple[Failure, ...] = ()  # planning's and the run's
    pushed: tuple[tuple[str, Digest], ...] = ()  # every name pushed to a registry, as it stored it
    remote: Mapping[str, int] = field(default_factory=dict)  # what moved to and from the remote cache
    attached: tuple[Attached, ...] = ()  # the SBOMs attached to the pushed indexes
    signed: tuple[Signed, ...] = ()  # the pushed indexes signed (--sign-key)


def _planned(run: Run, prepared: Prepared) -> Planned:
    plan = build_plan(run, prepared)
    assessments = assess(plan, run.records)
    if run.mode is Mode.PLAN:
        assessments = consult_remote(run, plan, assessments, fetch=False)
    run.warnings += plan.warnings + run.records.warnings
    run.records.warnings.clear()
    found = {images.scan.key: images.found for images in prepared.images.values()}
    return Planned(run.ws, plan, assessments, tuple(prepared.blocked), tuple(run.failures),
                   tuple(dict.fromkeys(run.warnings)), prepared.renders, found, dict(prepared.images))


def _prepare(run: Run, progress: Progress, update: bool = False, images: bool = True) -> Prepared:
    phase("resolving inputs")
    sources, changes = gather_sources(run, select_apps(run), update)
    phase("fetching inputs")
    results = run_sources(run, sources, progress)
    phase("scanning images")
    prepared = prepare_apps(run, sources, results)
    prepared.lock_changes += changes
    if run.mode is Mode.APPLY:
        for reason in prepared.blocked:  # only when a source step failed, which is reported
            run.fail(reason.split(" ", 1)[0], BuildError(f"still blocked after fetching: {reason}"))
        prepared.blocked.clear()
    if run.mode is not Mode.PLAN and images:
        phase("pinning images")
        pin_all_images(run, prepared, update)
    elif run.pins:
        run.lock.write()
    if run.mode is Mode.PLAN:  # the digests apps.lock pins, as apply pulls them (same keys)
        prepared.images = {key: pin_images(found, run.lock, frozen=False)
                           for key, found in prepared.images.items()}
    return prepared


def plan_workspace(settings: Settings, ws: LoadedWorkspace, notify: Notify,
                   settled: Callable[[Planned], None] | None = None) -> Planned:
    """The plan of the selected app versions, fresh or stale. No network; writes only scan
    records to the cache (so an unchanged app is never rendered twice). ``settled`` sees
    the plan with the cache closed and still leased (an existing cache only)."""
    if not settings.cache_dir.exists():
        return plan_unlocked(settings, ws)
    with hold_cache(settings.cache_dir, exclusive=False, timeout=settings.lock_timeout, notify=notify):
        planned = plan_unlocked(settings, ws)
        if settled is not None:
            settled(planned)
        return planned


def plan_unlocked(settings: Settings, ws: LoadedWorkspace) -> Planned:
    """``plan_workspace`` for a caller that holds the cache already (``cache gc``)."""
    with opened(settings, ws, Mode.PLAN) as run:
        planned = _planned(run, _prepare(run, NoProgress()))
        if run.index.exists() and not run.failures:  # remember file digests in an existing cache
            run.digests.save()                       # (never make one; bad input touches nothing)
        return planned


def prepared_plan(settings: Settings, ws: LoadedWorkspace, notify: Notify,
                  use: Callable[[Run, Planned], T]) -> T:
    """``use`` the plan as apply makes it (inputs fetched or taken from the remote cache,
    images pinned) with the remote cache consulted, building nothing (``matrix``, ``publish``)."""
    with hold_workspace(ws.root, settings.lock_timeout, notify), \
            hold_cache(settings.cache_dir, exclusive=False, timeout=settings.lock_timeout,
                       notify=notify), opened(settings, ws, Mode.APPLY) as run:
        planned = _planned(run, _prepare(run, NoProgress()))
        assessments = consult_remote(run, planned.plan, planned.assessments, fetch=False)
        run.finish_remote()
        warnings = tuple(dict.fromkeys((*planned.warnings, *run.warnings)))
        return use(run, replace(planned, assessments=assessments, failures=tuple(run.failures),
                                warnings=warnings))


def lock_workspace(settings: Settings, ws: LoadedWorkspace, notify: Notify, update: bool = False,
                   images: bool = True) -> tuple[list[LockChange], tuple[Failure, ...]]:
    """Pin every remote input (fetched, so every app can be scanned) and, with ``images``,
    every shipped image of the selected app versions."""
    with hold_workspace(ws.root, settings.lock_timeout, notify), \
            hold_cache(settings.cache_dir, exclusive=False, timeout=settings.lock_timeout,
                       notify=notify), opened(settings, ws, Mode.LOCK) as run:
        prepared = _prepare(run, NoProgress(), update, images)
        return prepared.lock_changes, tuple(run.failures)


def apply_workspace(settings: Settings, ws: LoadedWorkspace, progress: Progress,
                    notify: Notify, settled: Callable[[Applied, bool], None] | None = None) -> Applied:
    """Pin what is not pinned (unless frozen), fetch, scan, plan, and run the stale steps;
    write the SBOM of every app version built and attach it to every index pushed; with a
    signing key, sign each of them. ``settled`` sees the result, and whether the run stayed
    offline, with the cache closed and the workspace and cache still locked."""
    from clusterbuild.commands.supply import write_sboms

    start = time.perf_counter()
    signer = None
    if settings.signing is not None:  # read now: a bad key or password costs no build
        from clusterbuild.commands.signatures import load_signer

        signer = load_signer(settings, ws.root)
    with hold_workspace(ws.root, settings.lock_timeout, notify), \
            hold_cache(settings.cache_dir, exclusive=False, timeout=settings.lock_timeout, notify=notify):
        with opened(settings, ws, Mode.APPLY) as run:
            remove_leftovers(settings.cache_dir, settings.layout_dir)
            prepared = _prepare(run, progress)
            phase("planning")
            planned = _planned(run, prepared)
            if not run.failures:  # bad input leaves the cache as it was
                run.digests.save()
            phase("building")
            outcome = run_builds(run, planned.plan, planned.assessments, progress)
            exports = [(s, outcome.results.get(s.key)) for s in planned.plan.steps
                       if isinstance(s, ExportStep)]
            exported = tuple(ref for _, r in exports if isinstance(r, ExportResult) for ref in r.refs)
            built = [(s.app, s.version) for s, r in exports if isinstance(r, ExportResult)]
            run.attempt("sbom", lambda: write_sboms(settings, planned, built, run.lock))
            attached: tuple[Attached, ...] = ()
            signed: tuple[Signed, ...] = ()
            if any(isinstance(s, PushStep) for s in planned.plan.steps):  # only then: it imports
                from clusterbuild.commands.attachments import attach_sboms, pushed_indexes  # the
                from clusterbuild.commands.signatures import sign_indexes  # registry client (0.1 s)

                indexes = pushed_indexes(planned, outcome.results)
                attached = tuple(attach_sboms(run, planned, indexes))
                signed = tuple(sign_indexes(run, signer, indexes))
            if any(isinstance(r.step, ExportStep) for r in outcome.ran):
                OciLayout(settings.layout_dir).prune()  # blobs of replaced images
            record_root(settings.cache_dir, ws.root, (s.key for s in planned.plan.steps),
                        keep_previous=bool(run.failures))
            # a run that failed somewhere keeps what the last runs kept (as record_root does)
            run.records.save_snapshot(whole=not settings.targets and not settings.platforms
                                      and not run.failures)
            run.finish_remote()
            pushed = tuple(ref for r in outcome.results.values() if isinstance(r, PushResult)
                           for ref in r.pushed)
            remote = run.remote.traffic.to_json() if run.remote is not None else {}
            failures, ran = tuple(run.failures), run.ran
            warnings = tuple(dict.fromkeys((*planned.warnings, *run.warnings)))
        planned = replace(planned, failures=failures, warnings=warnings)
        applied = Applied(planned, ran, time.perf_counter() - start, exported, failures, pushed, remote,
                          attached, signed)
        if settled is not None:
            settled(applied, not run.network.used)
    return applied
