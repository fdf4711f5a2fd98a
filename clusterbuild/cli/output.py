"""Printing plans, progress and summaries: rich on a terminal, plain lines in CI or pipes."""

from __future__ import annotations

import os
import sys
from typing import Any

from clusterbuild.execute.runner import StepRun
from clusterbuild.plan.status import Status
from clusterbuild.plan.steps import ExportStep, FetchStep, PullStep, ScanStep, Step, UnpackStep
from clusterbuild.workflow import Applied, Planned


def use_color() -> bool:
    return sys.stdout.isatty() and not os.environ.get("CI") and not os.environ.get("NO_COLOR")


class Printer:
    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose
        self._console: Any = None
        if use_color():
            from rich.console import Console

            self._console = Console(highlight=False)

    def line(self, text: str, style: str = "") -> None:
        if self._console is not None:
            self._console.print(text, style=style or None, markup=False)
        else:
            print(text, flush=True)

    # Progress protocol
    def started(self, step: Step) -> None:
        if self.verbose:
            self.line(f"  … {step.label}", "dim")

    def finished(self, step: Step, seconds: float) -> None:
        self.line(f"  ✓ {step.label}  {seconds:.2f}s", "green")


def _platforms(step: Step) -> str:
    return ",".join(str(p) for p in step.platforms) or "-"


def print_plan(planned: Planned, printer: Printer) -> None:
    current = ""
    stale = 0
    for step in planned.plan.steps:
        name = f"{step.app}:{step.version}"
        if name != current:
            printer.line(name, "bold")
            current = name
        verdict = planned.assessments[step.key]
        stale += verdict.status is Status.STALE
        detail = f"  ({verdict.reason})" if verdict.reason else ""
        style = "yellow" if verdict.status is Status.STALE else "dim"
        printer.line(f"  {verdict.status.value:<5}  {step.kind:<6}  {_platforms(step):<24}"
                     f"{_what(step)}{detail}", style)
    for reason in planned.blocked:
        printer.line(f"blocked  {reason}", "yellow")
    total = len(planned.plan)
    blocked = f", {len(planned.blocked)} app inputs blocking builds" if planned.blocked else ""
    printer.line(f"{total} steps: {stale} stale, {total - stale} fresh{blocked}")


def _what(step: Step) -> str:
    if isinstance(step, PullStep):
        return step.reference
    if isinstance(step, FetchStep):
        return step.url
    if isinstance(step, UnpackStep):
        return f"{step.input_id} {step.what}"
    if isinstance(step, ScanStep):
        return f"{len(step.found)} images"
    created_by = getattr(step, "created_by", "")
    if created_by:
        return created_by if len(created_by) <= 40 else created_by[:37] + "..."
    if isinstance(step, ExportStep):
        return step.index_ref
    return ""


def plan_json(planned: Planned) -> dict[str, Any]:
    steps = []
    for step in planned.plan.steps:
        verdict = planned.assessments[step.key]
        steps.append({
            "key": step.key, "kind": step.kind, "app": step.app, "version": step.version,
            "platforms": [str(p) for p in step.platforms], "slot": step.slot,
            "status": verdict.status.value, "reason": verdict.reason, "needs": list(step.needs),
        })
    stale = sum(s["status"] == Status.STALE.value for s in steps)
    return {"steps": steps, "blocked": list(planned.blocked),
            "summary": {"steps": len(steps), "stale": stale, "fresh": len(steps) - stale}}


def _run_json(run: StepRun) -> dict[str, Any]:
    step = run.step
    return {"kind": step.kind, "app": step.app, "version": step.version, "slot": step.slot,
            "platforms": [str(p) for p in step.platforms], "seconds": round(run.seconds, 3)}


def images_of(applied: Applied) -> list[dict[str, str]]:
    from clusterbuild.places.layout import OciLayout

    layout = OciLayout(applied.planned.workspace.layout_dir)
    refs = layout.refs()
    out = []
    for step in applied.planned.plan.steps:
        if isinstance(step, ExportStep):
            out += [{"ref": ref, "digest": str(refs[ref].digest)} for ref in step.refs]
    return out


def apply_json(applied: Applied) -> dict[str, Any]:
    return {"images": images_of(applied), "ran": [_run_json(r) for r in applied.ran],
            "cached": len(applied.planned.plan) - len(applied.ran),
            "seconds": round(applied.seconds, 3),
            "layout": str(applied.planned.workspace.layout_dir)}


def print_summary(applied: Applied, printer: Printer) -> None:
    for image in images_of(applied):
        printer.line(f"{image['ref']}  {image['digest']}")
    total = len(applied.planned.plan)
    printer.line(f"{len(applied.ran)} steps ran, {total - len(applied.ran)} cached, "
                 f"{applied.seconds:.2f}s; layout: {applied.planned.workspace.layout_dir}")


def found_images(planned: Planned) -> list[dict[str, Any]]:
    """Every image each app version ships, with where it was found."""
    out = []
    for step in planned.plan.steps:
        if isinstance(step, ScanStep):
            for image in step.found:
                out.append({"app": step.app, "version": step.version, **image})
    return out


def print_images(planned: Planned, printer: Printer, why: bool) -> None:
    for image in found_images(planned):
        printer.line(str(image["reference"]))
        if why:
            for source in image["sources"]:
                printer.line(f"    {source}", "dim")
