"""Demand-driven running: which stale steps must run, which come from the remote step
cache, and which are not needed at all. Pure: remote look-ups are a function passed in.

Walking from the steps nobody consumes (export, push) towards the inputs, a step that must
run demands its inputs; an input cached locally is used, one the remote cache holds is
taken from there, any other runs in turn. What a consumer needs of an input is ``Need``:

    RECORD    the result only (an image step reads its layers' descriptors, not their bytes)
    METADATA  also manifests and configs (a push that mounts layers from the cache repository)
    BLOBS     every blob (an export to the layout, a registry/ tree of pulled images)

A stale step no step demands is "not needed": e.g. the pulls and layers of an image that
the remote cache holds. Look-ups go wave by wave (all steps at one distance from the sinks
at once), so a caller can send each wave's look-ups in parallel.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from clusterbuild.oci.reference import Reference
from clusterbuild.plan.graph import Plan
from clusterbuild.plan.results import StepResult
from clusterbuild.plan.status import Assessment, Status
from clusterbuild.plan.steps import ImageStep, IndexStep, PullStep, PushStep, Step


class Need(IntEnum):
    RECORD = 0
    METADATA = 1
    BLOBS = 2


Lookup = Callable[[Sequence[Step]], Mapping[str, StepResult]]  # the remote hits among steps, by key


@dataclass(frozen=True)
class Demand:
    assessments: dict[str, Assessment]  # fresh, stale (runs), cached remotely, not needed
    fetch: dict[str, Need] = field(default_factory=dict)  # remote step key -> what to fetch

    def counts(self) -> dict[Status, int]:
        out = dict.fromkeys(Status, 0)
        for verdict in self.assessments.values():
            out[verdict.status] += 1
        return out


def _push_mounts(step: PushStep, mount_registry: str | None) -> bool:
    """The push goes to the registry of the remote cache: blobs mount there, none is fetched."""
    return mount_registry is not None and Reference.parse(step.refs[0]).registry == mount_registry


def input_need(consumer: Step, demanded: Need, mount_registry: str | None) -> Need:
    """What ``consumer`` (demanded at ``demanded``) needs of each of its inputs when it runs."""
    if isinstance(consumer, ImageStep):  # descriptors; the bytes only when they are passed on
        return Need.BLOBS if demanded is Need.BLOBS else Need.RECORD
    if isinstance(consumer, IndexStep):
        return demanded
    if isinstance(consumer, PullStep):  # reads the scan's result
        return Need.RECORD
    if isinstance(consumer, PushStep):
        return Need.METADATA if _push_mounts(consumer, mount_registry) else Need.BLOBS
    return Need.BLOBS  # export, registry (pulled blobs), unpack (fetched archive)


def _waves(plan: Plan) -> list[list[Step]]:
    """Steps grouped by their longest distance to a step nobody consumes (sinks first)."""
    consumers: dict[str, list[str]] = {}
    for step in plan.steps:
        for need in step.needs:
            consumers.setdefault(need, []).append(step.key)
    height: dict[str, int] = {}
    for step in reversed(plan.steps):
        height[step.key] = 1 + max((height[c] for c in consumers.get(step.key, ())), default=-1)
    waves: list[list[Step]] = [[] for _ in range(max(height.values(), default=-1) + 1)]
    for step in plan.steps:
        waves[height[step.key]].append(step)
    return waves


def demand(plan: Plan, assessments: Mapping[str, Assessment], lookup: Lookup, *,
           cacheable: Collection[str], mount_registry: str | None = None,
           broken: Collection[str] = (), sinks: Mapping[str, Need] | None = None) -> Demand:
    """The verdict on every step once the remote cache is consulted. ``cacheable``: the step
    kinds the remote cache may hold; ``broken``: keys whose remote entry failed to fetch;
    ``sinks``: what is demanded of a sink other than every blob (e.g. the record only of an
    input whose files planning never reads: its layer fetches them when it runs here)."""
    sinks = sinks or {}
    out = dict(assessments)
    needed: dict[str, Need] = {}
    fetch: dict[str, Need] = {}
    consumed = {need for step in plan.steps for need in step.needs}
    for wave in _waves(plan):
        for step in wave:  # sinks are demanded whole
            if step.key not in consumed and out[step.key].status is not Status.FRESH:
                needed.setdefault(step.key, sinks.get(step.key, Need.BLOBS))
        asked = [s for s in wave if s.key in needed and out[s.key].status is not Status.FRESH
                 and s.kind in cacheable and s.key not in broken]
        hits = lookup(asked) if asked else {}
        for step in wave:
            verdict = out[step.key]
            if verdict.status is Status.FRESH:
                continue
            if step.key not in needed:
                out[step.key] = Assessment(Status.NOT_NEEDED, "only steps cached elsewhere use it")
            elif step.key in hits:
                out[step.key] = Assessment(Status.REMOTE, "", hits[step.key])
                fetch[step.key] = needed[step.key]
            else:
                level = input_need(step, needed[step.key], mount_registry)
                for need in step.needs:
                    needed[need] = max(needed.get(need, Need.RECORD), level)
    return Demand(out, fetch)
