"""Fresh or stale, and why: a pure judgement over a plan and what the cache recorded.

Checked cheapest first (as dvc does): is the key recorded; are its outputs
still present; otherwise which named inputs differ from the slot's last run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from clusterbuild.plan.graph import Plan
from clusterbuild.plan.keys import changed_names
from clusterbuild.plan.results import StepResult
from clusterbuild.plan.steps import Step


class Status(StrEnum):
    FRESH = "fresh"
    STALE = "stale"
    REMOTE = "cached remotely"  # the remote step cache holds it (``plan.demand``)
    NOT_NEEDED = "not needed"  # stale, but every step that would use it is cached


@dataclass(frozen=True)
class Assessment:
    status: Status
    reason: str
    result: StepResult | None = None  # what the cache holds for a fresh step


class Records(Protocol):
    """Read access to what earlier runs recorded (implemented over the cache)."""

    def result(self, step: Step) -> StepResult | None: ...
    def last_run(self, slot: str) -> dict[str, Any] | None: ...
    def outputs_present(self, step: Step, result: StepResult) -> bool: ...


MAX_NAMES = 3


def _describe(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
    return f"changed: {shown}{more}"


def why_stale(step: Step, records: Records) -> str:
    last = records.last_run(step.slot)
    if last is None:
        return "never built"
    if last.get("implementation") != step.implementation:
        return "clusterbuild's implementation of this step changed"
    names = changed_names(last.get("fingerprint", {}), step.fingerprint())
    return _describe(names) if names else "not in the cache"


def assess(plan: Plan, records: Records) -> dict[str, Assessment]:
    out: dict[str, Assessment] = {}
    for step in plan.steps:
        result = records.result(step)
        if result is not None and records.outputs_present(step, result):
            out[step.key] = Assessment(Status.FRESH, "", result)
        elif result is not None:
            out[step.key] = Assessment(Status.STALE, "outputs missing (removed from the cache "
                                       "or the layout)")
        else:
            out[step.key] = Assessment(Status.STALE, why_stale(step, records))
    return out
