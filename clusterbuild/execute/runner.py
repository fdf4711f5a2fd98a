"""Run the stale steps of a plan in dependency order, several at a time.

Each completed step is recorded at once, so an interrupted apply resumes where
it stopped. The first failure stops new work; running steps finish; the error
is raised with the step that failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError, ClusterbuildError
from clusterbuild.execute.export import run_export
from clusterbuild.execute.fetching import Downloads, run_fetch, run_unpack
from clusterbuild.execute.images import run_image, run_index
from clusterbuild.execute.layers import run_layer
from clusterbuild.execute.records import CacheRecords
from clusterbuild.execute.registry import Registry, run_pull, run_push, run_registry, run_scan
from clusterbuild.execute.scripts import run_script
from clusterbuild.plan.graph import Plan
from clusterbuild.plan.status import Assessment, Status
from clusterbuild.plan.steps import (
    ExportStep,
    FetchStep,
    ImageStep,
    IndexStep,
    LayerStep,
    PullStep,
    PushStep,
    RegistryStep,
    ScanStep,
    ScriptStep,
    Step,
    UnpackStep,
)

Results = dict[str, dict[str, Any]]


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


@dataclass
class RunContext:
    store: BlobStore
    results: Results
    registry: Callable[[], Registry]  # made on first use: only pulls need the network
    downloads: Callable[[], Downloads]  # likewise, for fetch steps


def _run_one(step: Step, ctx: RunContext) -> dict[str, Any]:
    if isinstance(step, LayerStep):
        return run_layer(step, ctx.store)
    if isinstance(step, ImageStep):
        return run_image(step, ctx.store, ctx.results)
    if isinstance(step, IndexStep):
        return run_index(step, ctx.store, ctx.results)
    if isinstance(step, ExportStep):
        return run_export(step, ctx.store, ctx.results)
    if isinstance(step, ScanStep):
        return run_scan(step)
    if isinstance(step, PullStep):
        return run_pull(step, ctx.registry(), ctx.store)
    if isinstance(step, RegistryStep):
        return run_registry(step, ctx.store, ctx.results)
    if isinstance(step, FetchStep):
        return run_fetch(step, ctx.downloads(), ctx.store)
    if isinstance(step, UnpackStep):
        return run_unpack(step, ctx.store)
    if isinstance(step, ScriptStep):
        return run_script(step, ctx.store, ctx.store.root)
    if isinstance(step, PushStep):
        return run_push(step, ctx.registry(), ctx.store, ctx.results)
    raise TypeError(f"no runner for {type(step).__name__}")


def _timed(fn: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    return fn(), time.perf_counter() - start


def run_plan(plan: Plan, assessments: dict[str, Assessment], records: CacheRecords,
             jobs: int, progress: Progress, registry: Callable[[], Registry],
             downloads: Callable[[], Downloads], kinds: frozenset[str] | None = None) -> list[StepRun]:
    """Run the stale steps (only those of ``kinds`` when given) in dependency order."""
    results: Results = {}
    ctx = RunContext(records.store, results, registry, downloads)
    pending: list[Step] = []
    for step in plan.steps:
        if assessments[step.key].status is Status.FRESH:
            found = records.result(step.key)
            assert found is not None
            results[step.key] = found
        elif kinds is None or step.kind in kinds:
            pending.append(step)
    ran: list[StepRun] = []
    running: dict[Future[tuple[dict[str, Any], float]], Step] = {}
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while pending or running:
            if failure is None:
                for step in [s for s in pending if all(n in results for n in s.needs)]:
                    pending.remove(step)
                    progress.started(step)
                    running[pool.submit(_timed, partial(_run_one, step, ctx))] = step
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                step = running.pop(future)
                try:
                    result, seconds = future.result()
                except BaseException as exc:
                    failure = failure or _with_step(step, exc)
                    continue
                records.record(step, result)
                results[step.key] = result
                progress.finished(step, seconds)
                ran.append(StepRun(step, seconds))
    if failure is not None:
        raise failure
    return ran


def _with_step(step: Step, exc: BaseException) -> BaseException:
    if isinstance(exc, ClusterbuildError):
        return exc
    if isinstance(exc, OSError):
        return BuildError(f"{step.label}: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    return exc
