"""The phases of a run, in a line, each once: every phase reads what the last produced.

    select   apps.yaml targets → app versions (an unreadable one is a failure)
    sources  remote inputs pinned (apply/lock: resolved first) and fetched, init.sh run
    builds   each platform's context and evaluated Kubefile
    scan     the images each app version ships (recorded in the cache whenever computed)
    pin      every shipped image pinned in apps.lock (apply/lock), written once
    plan     the build steps of every app version that got this far

``plan`` runs the same phases without network or writes to apps.lock and out/: inputs
not fetched yet block their app version instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from clusterbuild.commands.run import Mode, Run
from clusterbuild.discover.helm_render import RENDERS
from clusterbuild.errors import ClusterbuildError, InputError
from clusterbuild.execute.locking import (
    LockChange,
    check_script_lock,
    lock_images,
    lock_inputs,
    lock_releases,
    pin_images,
    record_script_outputs,
)
from clusterbuild.execute.pools import thread_pool
from clusterbuild.execute.runner import Progress, RunContext, RunOutcome, run_plan
from clusterbuild.execute.step_artifacts import CACHED_KINDS
from clusterbuild.execute.step_bundles import BundleGroup, bundle_group
from clusterbuild.plan.demand import Need, demand
from clusterbuild.plan.graph import Plan
from clusterbuild.plan.planner import AppImages, PlanOptions, PlatformBuild, plan_builds
from clusterbuild.plan.results import FilesResult, LayerResult, StepResult
from clusterbuild.plan.status import Assessment, assess
from clusterbuild.plan.steps import ScriptStep, Step
from clusterbuild.workspace.deferred import deferrable
from clusterbuild.workspace.derived import with_derived
from clusterbuild.workspace.fetched import AppInputs, input_files, input_producers, pinned, plan_inputs
from clusterbuild.workspace.inputs import remote_inputs
from clusterbuild.workspace.legacy import build_from_outputs, is_legacy, script_steps
from clusterbuild.workspace.load import AppVersion, select
from clusterbuild.workspace.prepare import prepare
from clusterbuild.workspace.releases import pinned_releases, unpinned_releases
from clusterbuild.workspace.scanning import scan_app


@dataclass(frozen=True)
class Sources:
    """What an app version's builds read besides its directory: the steps that make it."""

    av: AppVersion
    steps: tuple[Step, ...]  # fetch + unpack, or one script per platform
    inputs: AppInputs | None = None  # declarative apps
    scripts: tuple[ScriptStep, ...] = ()  # init.sh apps


@dataclass
class Prepared:
    """Every app version that got through the phases, and what they leave for the plan."""

    input_steps: list[Step] = field(default_factory=list)
    builds: list[PlatformBuild] = field(default_factory=list)
    images: dict[tuple[str, str], AppImages] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)
    lock_changes: list[LockChange] = field(default_factory=list)
    renders: int = 0


def select_apps(run: Run) -> list[AppVersion]:
    selected, failures = select(run.ws, run.settings.targets, run.settings.platforms)
    for failure in failures:
        run.fail(failure.what, failure.error)
    return selected


def _sources(run: Run, av: AppVersion, update: bool, changes: list[LockChange]) -> Sources:
    if is_legacy(av):
        scripts = script_steps(run.ws, av, run.digests)
        check_script_lock(scripts, run.lock, run.settings.frozen)
        return Sources(av, scripts, scripts=scripts)
    av, unlocked = _releases(run, av, update, changes)
    plans = remote_inputs(run.ws, av)  # rendered once, for pinning and for planning
    if run.pins:
        todo = [p for p in plans if update or isinstance(pinned(p, run.lock), str)]
        if todo:
            changes += lock_inputs(todo, run.lock, run.network.downloads(), run.store, update)
    inputs = plan_inputs(av, plans, run.lock)
    inputs = replace(inputs, unpinned=unlocked + inputs.unpinned)
    if inputs.unpinned and run.settings.frozen:
        more = f" (and {len(inputs.unpinned) - 1} more)" if len(inputs.unpinned) > 1 else ""
        raise InputError(f"{run.lock.path}: {inputs.unpinned[0]}{more}",
                         hint="run `clusterbuild lock` and commit apps.lock (--frozen never changes it)")
    return Sources(av, inputs.steps, inputs=inputs)


def _releases(run: Run, av: AppVersion, update: bool, changes: list[LockChange]
              ) -> tuple[AppVersion, tuple[str, ...]]:
    """``av`` with its releases as apps.lock pins them (apply, lock: resolved first), and why
    those not pinned block it (plan); a frozen build refuses them."""
    if not av.spec.releases:
        return av, ()
    if run.pins:
        av, found = lock_releases(av, run.lock, run.network.downloads(), run.store, update)
        changes += found
    else:
        av = replace(av, releases=pinned_releases(run.lock, av))
    missing = tuple(f"{av.name} releases.{name} ({av.spec.releases[name].describe()}): not locked, "
                    "or changed since locked" for name in unpinned_releases(av))
    if missing and run.settings.frozen:
        raise InputError(f"{run.lock.path}: {missing[0]}",
                         hint="run `clusterbuild lock` and commit apps.lock (--frozen never changes it)")
    return av, missing


def gather_sources(run: Run, avs: Sequence[AppVersion], update: bool = False
                   ) -> tuple[list[Sources], list[LockChange]]:
    """Each app version's source steps; in apply and lock, unpinned inputs are pinned first."""
    changes: list[LockChange] = []
    found = [run.attempt(av.name, partial(_sources, run, av, update, changes)) for av in avs]
    return [s for s in found if s is not None], changes


def _source_plan(sources: Sequence[Sources]) -> Plan:
    plan = Plan()
    for source in sources:
        for step in source.steps:
            plan.add(step)
    return plan


def bundle_groups(sources: Sequence[Sources]) -> list[BundleGroup]:
    """The bundle of each app version and platform (``execute.step_bundles``), keyed by the
    source steps of that platform: known before anything is looked up."""
    return [bundle_group(s.av.app, s.av.version, platform,
                         [step.key for step in s.steps if not step.platforms or platform in step.platforms])
            for s in sources for platform in s.av.platforms]


def run_sources(run: Run, sources: list[Sources], progress: Progress) -> dict[str, StepResult]:
    """Fetch, unpack and (apply only) run init.sh where stale; every source step's result."""
    if run.remote is not None:
        run.remote.expect(bundle_groups(sources))
    plan = _source_plan(sources)
    assessments = assess(plan, run.records)
    if run.mode is Mode.PLAN:
        return {key: a.result for key, a in assessments.items() if a.result is not None}
    kinds = frozenset({"fetch", "unpack"}) if run.mode is Mode.LOCK else None
    outcome = _run(run, plan, assessments, progress, kinds, _deferred(run, sources))
    failed = {f.step.key: f.error for f in outcome.failed}
    for source in sources:
        error = next((failed[s.key] for s in source.steps if s.key in failed), None)
        if error is not None:
            run.fail(source.av.name, error)
    if run.mode is Mode.APPLY:
        run.attempt("apps.lock", lambda: record_script_outputs(
            outcome.ran, outcome.results, run.lock, run.settings.frozen))
    return outcome.results


def _deferred(run: Run, sources: list[Sources]) -> dict[str, Need]:
    """Apply with a remote cache: the unpack steps whose files planning never reads are taken
    as records only (``workspace.deferred``); the layer that packs them fetches their blobs,
    through its needs, only when it runs here."""
    if run.mode is not Mode.APPLY or run.remote is None:
        return {}
    return {step.key: Need.RECORD for source in sources if source.inputs is not None
            for step in deferrable(source.av, source.inputs.unpacks)}


def consult_remote(run: Run, plan: Plan, assessments: dict[str, Assessment],
                   fetch: bool = True, sinks: dict[str, Need] | None = None) -> dict[str, Assessment]:
    """The verdicts once the remote cache is consulted (``plan.demand``), and (``fetch``) the
    blobs of remote hits that their consumers need (``sinks``: of steps nobody consumes, when
    not every blob). A blob that cannot be fetched makes its step run locally: the demand is
    worked out again without that entry."""
    remote = run.remote
    if remote is None:
        return assessments
    steps = {s.key: s for s in plan.steps}
    broken: set[str] = set()
    while True:
        found = demand(plan, assessments, remote.lookup, cacheable=CACHED_KINDS,
                       mount_registry=remote.access.registry, broken=broken, sinks=sinks)
        if not fetch:
            return found.assessments
        results = {key: found.assessments[key].result for key in found.fetch}
        failed = remote.fetch(steps, {k: r for k, r in results.items() if r is not None}, found.fetch)
        if not failed:
            break
        broken |= failed
    for key, need in found.fetch.items():  # complete here now: remembered locally
        result = results[key]
        if need is Need.BLOBS and result is not None:
            local = replace(result, referenced=()) if isinstance(result, LayerResult) else result
            run.records.record(steps[key], local, upload=False)
    return found.assessments


def _run(run: Run, plan: Plan, assessments: dict[str, Assessment], progress: Progress,
         kinds: frozenset[str] | None = None, sinks: dict[str, Need] | None = None) -> RunOutcome:
    assessments = consult_remote(run, plan, assessments, sinks=sinks)
    run.warnings += _drain(run.records.warnings)
    ctx = RunContext(run.store, run.network.registry, run.network.downloads, run.settings.scripts)
    outcome = run_plan(plan, assessments, run.records, ctx, progress, jobs=run.settings.jobs,
                       kinds=kinds, fail_fast=run.settings.fail_fast)
    run.ran += outcome.ran
    if not run.settings.scripts.enabled:
        run.warnings += [f"{r.step.app}:{r.step.version} [{r.step.platforms[0]}]: init.sh ran without a "
                         "sandbox (scripts.sandbox: false): it could read your files and credentials"
                         for r in outcome.ran if isinstance(r.step, ScriptStep)]
    if outcome.failed and run.settings.fail_fast:
        raise outcome.failed[0].error
    return outcome


def _drain(items: list[str]) -> list[str]:
    out = items[:]
    items.clear()
    return out


def _builds(run: Run, source: Sources, results: dict[str, StepResult]
            ) -> list[PlatformBuild] | tuple[str, ...]:
    """Each platform's build of ``source.av``, or why it is blocked (plan: inputs not
    pinned or not fetched yet, init.sh not run yet)."""
    av = source.av
    if source.inputs is not None:
        files = input_files(av, source.inputs, results, run.store.path)
        if source.inputs.unpinned or isinstance(files, str):
            return source.inputs.unpinned + ((files,) if isinstance(files, str) else ())
        producers = input_producers(source.inputs, results)
        return [replace(with_derived(run.ws, av, build, run.store), producers=producers)
                for build in prepare(run.ws, av, run.digests, files)]
    builds = []
    for step in source.scripts:
        result = results.get(step.key)
        if not isinstance(result, FilesResult):
            return (f"{av.name} [{step.platforms[0]}]: init.sh must run",)
        builds.append(build_from_outputs(run.ws, av, step.platforms[0], result, run.store.path))
    return builds


def _scan(run: Run, av: AppVersion, builds: list[PlatformBuild]) -> AppImages | ClusterbuildError:
    try:
        return scan_app(run.ws, av, builds[0], run.records, remember_all=run.mode is not Mode.PLAN)
    except ClusterbuildError as exc:
        return exc


def prepare_apps(run: Run, sources: list[Sources], results: dict[str, StepResult]) -> Prepared:
    """Builds of every app version whose sources are there, then their scans, several at a
    time (chart renders release the GIL), reported in order."""
    out = Prepared()
    ready: list[tuple[Sources, list[PlatformBuild]]] = []
    for source in sources:
        if source.av.name in {f.what for f in run.failures}:
            continue
        builds = run.attempt(source.av.name, partial(_builds, run, source, results))
        if isinstance(builds, tuple):
            out.input_steps += source.steps
            out.blocked += builds
        elif builds:
            ready.append((source, builds))
    renders_before = RENDERS.count
    with thread_pool(run.settings.jobs) as pool:
        scans = list(pool.map(lambda item: _scan(run, item[0].av, item[1]), ready))
    for (source, builds), images in zip(ready, scans, strict=True):
        if isinstance(images, ClusterbuildError):
            run.fail(source.av.name, images)
            continue
        run.warnings += images.found.warnings
        out.input_steps += source.steps
        out.builds += builds
        out.images[(source.av.app, source.av.version)] = images
    out.renders = RENDERS.count - renders_before
    return out


def _pin(run: Run, images: AppImages, update: bool, changes: list[LockChange]) -> AppImages:
    if run.pins:
        missing = [r for r in images.references if update or r not in run.lock.images]
        if missing:
            changes += lock_images(missing, run.lock, run.network.downloads(), update)
    return pin_images(images, run.lock, run.settings.frozen)


def pin_all_images(run: Run, prepared: Prepared, update: bool = False) -> None:
    """Pull every image by the digest apps.lock pins; pin the unpinned first (apply, lock).
    apps.lock is written once, here."""
    for key, images in list(prepared.images.items()):
        pinned_images = run.attempt(f"{key[0]}:{key[1]}",
                                    partial(_pin, run, images, update, prepared.lock_changes))
        if pinned_images is None:
            _drop(prepared, key)
        else:
            prepared.images[key] = pinned_images
    if run.pins:
        run.lock.write()


def _drop(prepared: Prepared, key: tuple[str, str]) -> None:
    prepared.images.pop(key, None)
    prepared.builds = [b for b in prepared.builds if (b.app, b.version) != key]


def _created(run: Run, prepared: Prepared) -> dict[tuple[str, str], int]:
    """Each app version's `created` time: the last commit of its app dir (without
    SOURCE_DATE_EPOCH), so that a date is shown and clones still agree."""
    if run.settings.epoch_given:
        return {}
    from clusterbuild.workspace.commit_time import commit_times

    dirs = {(b.app, b.version): b.context.root for b in prepared.builds}
    times = commit_times(run.ws.root, set(dirs.values()))
    return {key: times[path] for key, path in dirs.items() if path in times}


def plan_options(run: Run, prepared: Prepared | None = None) -> PlanOptions:
    settings = run.settings
    created = _created(run, prepared) if prepared is not None else {}
    return PlanOptions(registry=settings.registry, root=run.ws.root, layout=settings.layout, created=created,
                       archive=settings.archive, multi_archive=settings.multi_archive,
                       docker_archive=settings.docker_archive,
                       zstd=settings.layer_compression == "zstd",
                       mtime=settings.mtime, push_to=settings.push_to, shard=settings.shard)


def build_plan(run: Run, prepared: Prepared) -> Plan:
    return plan_builds(prepared.builds, plan_options(run, prepared), prepared.images, prepared.input_steps)


def run_builds(run: Run, plan: Plan, assessments: dict[str, Assessment],
               progress: Progress) -> RunOutcome:
    outcome = _run(run, plan, assessments, progress)
    for failure in outcome.failed:
        step = failure.step
        where = ",".join(str(p) for p in step.platforms)
        run.fail(f"{step.app}:{step.version}" + (f" [{where}]" if where else ""), failure.error)
    return outcome

