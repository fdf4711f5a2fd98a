"""Run the stale steps of a plan in dependency order, several at a time.

Each completed step is recorded at once, so an interrupted apply resumes where it
stopped. A step that fails is reported with the step; the steps that need it are
skipped and every other step still runs (``fail_fast``: no new step starts after the
first failure). Runners hand each other typed results (``plan.results``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError, ClusterbuildError
from clusterbuild.execute.chart_artifacts import run_chart
from clusterbuild.execute.export import run_export
from clusterbuild.execute.fetching import Downloads, run_fetch, run_unpack
from clusterbuild.execute.images import run_image, run_index
from clusterbuild.execute.layers import run_layer
from clusterbuild.execute.pools import thread_pool
from clusterbuild.execute.records import CacheRecords
from clusterbuild.execute.registry import BlobClaims, Registry, run_pull, run_push, run_registry
from clusterbuild.execute.scripts import run_script
from clusterbuild.places.layout import RefBatch
from clusterbuild.plan.graph import Plan
from clusterbuild.plan.results import (
    FetchResult,
    ImageResult,
    IndexResult,
    LayerResult,
    PullResult,
    StepResult,
)
from clusterbuild.plan.status import Assessment, Status
from clusterbuild.plan.steps import (
    ChartStep,
    ExportStep,
    FetchStep,
    ImageStep,
    IndexStep,
    LayerStep,
    PullStep,
    PushStep,
    RegistryStep,
    ScriptStep,
    Step,
    UnpackStep,
)
from clusterbuild.settings import ScriptSandbox

R = TypeVar("R")


class Progress(Protocol):
    def started(self, step: Step) -> None: ...
    def finished(self, step: Step, seconds: float) -> None: ...


class NoProgress:
    """Progress that shows nothing (JSON output, internal runs)."""

    def started(self, step: Step) -> None: ...
    def finished(self, step: Step, seconds: float) -> None: ...


@dataclass(frozen=True)
class StepRun:
    step: Step
    seconds: float


@dataclass(frozen=True)
class StepFailure:
    step: Step
    error: ClusterbuildError


@dataclass
class RunOutcome:
    ran: list[StepRun] = field(default_factory=list)
    failed: list[StepFailure] = field(default_factory=list)
    skipped: list[Step] = field(default_factory=list)  # needed a step that failed
    results: dict[str, StepResult] = field(default_factory=dict)  # every step's, fresh or run


@dataclass(frozen=True)
class RunContext:
    store: BlobStore
    registry: Callable[[], Registry]  # made on first use: only pulls and pushes need the network
    downloads: Callable[[], Downloads]  # likewise, for fetch steps
    sandbox: ScriptSandbox  # how init.sh runs
    refs: RefBatch = field(default_factory=RefBatch)  # layout refs, written once per run
    claims: BlobClaims = field(default_factory=BlobClaims)  # who fetches which missing blob


def _typed(results: dict[str, StepResult], keys: Sequence[str], kind: type[R]) -> list[R]:
    """The results of ``keys``, each checked to be a ``kind``."""
    found = [results[key] for key in keys]
    for result in found:
        if not isinstance(result, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(result).__name__}")
    return found  # type: ignore[return-value]


def _inputs(step: Step, results: dict[str, StepResult], kind: type[R]) -> list[R]:
    return _typed(results, step.needs, kind)


def _run_one(step: Step, ctx: RunContext, results: dict[str, StepResult]) -> StepResult:
    store = ctx.store
    if isinstance(step, LayerStep):
        return run_layer(step, store)
    if isinstance(step, ImageStep):
        return run_image(step, store, _inputs(step, results, LayerResult))
    if isinstance(step, IndexStep):
        return run_index(step, store, _inputs(step, results, ImageResult))
    if isinstance(step, PushStep) and not step.index_ref:  # a shard's: the platforms only
        return run_push(step, ctx.registry(), store, None, _typed(results, step.needs, ImageResult))
    if isinstance(step, ExportStep | PushStep):
        index = _typed(results, step.needs[:1], IndexResult)[0]
        images = _typed(results, step.needs[1:], ImageResult)
        if isinstance(step, ExportStep):
            return run_export(step, store, index, images, ctx.refs)
        return run_push(step, ctx.registry(), store, index, images)
    if isinstance(step, PullStep):
        return run_pull(step, ctx.registry(), store)
    if isinstance(step, RegistryStep):
        return run_registry(step, store, _inputs(step, results, PullResult), ctx.registry, ctx.claims)
    if isinstance(step, ChartStep):
        return run_chart(step, store)
    if isinstance(step, FetchStep):
        return run_fetch(step, ctx.downloads(), store)
    if isinstance(step, UnpackStep):
        _inputs(step, results, FetchResult)
        return run_unpack(step, store)
    if isinstance(step, ScriptStep):
        return run_script(step, store, store.root, ctx.sandbox)
    raise TypeError(f"no runner for {type(step).__name__}")


def _timed(step: Step, ctx: RunContext, results: dict[str, StepResult]) -> tuple[StepResult, float]:
    start = time.perf_counter()
    return _run_one(step, ctx, results), time.perf_counter() - start


class _Schedule:
    """Which pending steps can start: each waits for a count of unfinished needs."""

    def __init__(self, pending: Sequence[Step], done: set[str]) -> None:
        self.waiting = {s.key: sum(n not in done for n in s.needs) for s in pending}
        self.steps = {s.key: s for s in pending}
        self.dependents: dict[str, list[str]] = {}
        for step in pending:
            for need in step.needs:
                self.dependents.setdefault(need, []).append(step.key)
        self.ready = [s for s in pending if self.waiting[s.key] == 0]

    def take_ready(self) -> list[Step]:
        ready, self.ready = self.ready, []
        for step in ready:
            del self.steps[step.key]
        return ready

    def finished(self, key: str) -> None:
        for dependent in self.dependents.get(key, ()):
            self.waiting[dependent] -= 1
            if self.waiting[dependent] == 0 and dependent in self.steps:
                self.ready.append(self.steps[dependent])

    def failed(self, key: str) -> list[Step]:
        """Drop every pending step that needs ``key``, directly or not; return them."""
        dropped, stack = [], list(self.dependents.get(key, ()))
        while stack:
            dependent = stack.pop()
            step = self.steps.pop(dependent, None)
            if step is not None:
                dropped.append(step)
                stack += self.dependents.get(dependent, ())
        return dropped


# Steps that wait on a registry rather than a core (a shard's pushes mount layers from the
# cache repository: a few small requests each) run this many at a time beside the others.
NETWORK_KINDS = frozenset({"push"})
NETWORK_JOBS = 8


def run_plan(plan: Plan, assessments: dict[str, Assessment], records: CacheRecords, ctx: RunContext,
             progress: Progress, *, jobs: int = 2, kinds: frozenset[str] | None = None,
             fail_fast: bool = False) -> RunOutcome:
    """Run the stale steps (only those of ``kinds`` when given) in dependency order."""
    outcome = RunOutcome()
    pending: list[Step] = []
    for step in plan.steps:
        verdict = assessments[step.key]
        if verdict.status in (Status.FRESH, Status.REMOTE) and verdict.result is not None:
            outcome.results[step.key] = verdict.result
        elif verdict.status is Status.NOT_NEEDED:
            continue  # only steps that are cached (here or remotely) would use it
        elif kinds is None or step.kind in kinds:
            pending.append(step)
    schedule = _Schedule(pending, set(outcome.results))
    running: dict[Future[tuple[StepResult, float]], Step] = {}
    try:
        with thread_pool(jobs) as pool, thread_pool(max(jobs, NETWORK_JOBS)) as network:
            while True:
                if not (fail_fast and outcome.failed):
                    for step in schedule.take_ready():
                        progress.started(step)
                        chosen = network if step.kind in NETWORK_KINDS else pool
                        running[chosen.submit(_timed, step, ctx, outcome.results)] = step
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    _settle(running.pop(future), future, records, progress, outcome, schedule)
    finally:
        ctx.refs.flush()  # refs after their blobs,
        records.flush()  # and what completed is remembered, interrupted or not
    return outcome


def _settle(step: Step, future: Future[tuple[StepResult, float]], records: CacheRecords,
            progress: Progress, outcome: RunOutcome, schedule: _Schedule) -> None:
    try:
        result, seconds = future.result()
    except Exception as exc:
        outcome.failed.append(StepFailure(step, as_step_error(step, exc)))
        outcome.skipped += schedule.failed(step.key)
        return
    records.record(step, result)
    outcome.results[step.key] = result
    progress.finished(step, seconds)
    outcome.ran.append(StepRun(step, seconds))
    schedule.finished(step.key)


def as_step_error(step: Step, exc: Exception) -> ClusterbuildError:
    if isinstance(exc, ClusterbuildError):
        return exc
    if isinstance(exc, OSError):
        return BuildError(f"{step.label}: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    error = ClusterbuildError(f"{step.label}: unexpected {type(exc).__name__}: {exc}",
                              hint="rerun with --debug for a traceback")
    error.__cause__ = exc
    return error
