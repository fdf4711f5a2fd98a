"""Printing plans, progress and summaries: rich on a terminal, plain lines in CI or pipes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from clusterbuild.commands.build import Applied, Planned
from clusterbuild.errors import Failure, error_json
from clusterbuild.execute.runner import StepRun
from clusterbuild.plan.status import Status
from clusterbuild.plan.steps import (
    ChartStep,
    ExportStep,
    FetchStep,
    ImageStep,
    IndexStep,
    PullStep,
    PushStep,
    RegistryStep,
    ScanStep,
    Step,
    UnpackStep,
)

JSON_VERSION = 1  # of every --json object (docs/json.md); raised when a field changes meaning


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


def plural(count: int, word: str) -> str:
    """``1 step``, ``2 steps``, ``0 steps``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _platforms(step: Step) -> str:
    return ",".join(str(p) for p in step.platforms) or "all platforms"


def _grouped(steps: Sequence[Step]) -> dict[str, dict[str, list[Step]]]:
    """Steps by app version, then by the platforms they serve (shared steps first), in plan
    order within each group."""
    groups: dict[str, dict[str, list[Step]]] = {}
    for step in steps:
        groups.setdefault(f"{step.app}:{step.version}", {}).setdefault(_platforms(step), []).append(step)
    for name, by_platform in groups.items():
        groups[name] = dict(sorted(by_platform.items(), key=lambda item: (-item[0].count(","), item[0])))
    return groups


def print_plan(planned: Planned, printer: Printer) -> None:
    steps = planned.plan.steps
    kind_width = max((len(step.kind) for step in steps), default=0)
    stale = 0
    for name, by_platform in _grouped(steps).items():
        group = [step for members in by_platform.values() for step in members]
        group_stale = sum(planned.assessments[step.key].status is Status.STALE for step in group)
        printer.line(f"{name}  ({plural(len(group), 'step')}, {group_stale} stale)", "bold")
        for platforms, members in by_platform.items():
            printer.line(f"  {platforms}")
            for step in members:
                _print_step(step, planned, printer, kind_width)
        stale += group_stale
    for reason in planned.blocked:
        printer.line(f"blocked  {reason}", "yellow")
    for failure in planned.failures:
        printer.line(f"failed   {failure}", "red")
    total = len(planned.plan)
    blocked = f", {plural(len(planned.blocked), 'app input')} blocking builds" if planned.blocked else ""
    failed = f", {plural(len(planned.failures), 'app version')} failed" if planned.failures else ""
    counts = _counts(planned)
    remote = (f", {counts[Status.REMOTE]} cached remotely, {counts[Status.NOT_NEEDED]} not needed"
              if counts[Status.REMOTE] or counts[Status.NOT_NEEDED] else "")
    printer.line(f"{plural(total, 'step')}: {stale} stale, {counts[Status.FRESH]} fresh{remote}"
                 f"{blocked}{failed}")


def _counts(planned: Planned) -> dict[Status, int]:
    out = dict.fromkeys(Status, 0)
    for step in planned.plan.steps:
        out[planned.assessments[step.key].status] += 1
    return out


def _print_step(step: Step, planned: Planned, printer: Printer, kind_width: int) -> None:
    verdict = planned.assessments[step.key]
    detail = f"  ({verdict.reason})" if verdict.reason else ""
    style = {Status.STALE: "yellow", Status.REMOTE: "cyan"}.get(verdict.status, "dim")
    what = _what(step, planned)
    printer.line(f"    {verdict.status.value:<5}  {step.kind:<{kind_width}}  {what}{detail}".rstrip(), style)


def _what(step: Step, planned: Planned) -> str:
    if isinstance(step, PullStep | ChartStep):
        return step.reference
    if isinstance(step, FetchStep):
        return step.url
    if isinstance(step, UnpackStep):
        return f"{step.input_id} {step.what}"
    if isinstance(step, ScanStep):
        found = planned.found.get(step.key)
        return plural(len(found.images) if found else 0, "image")
    if isinstance(step, RegistryStep):
        return plural(len(step.references), "image")
    if isinstance(step, ImageStep):
        return plural(len(step.layer_names), "layer")
    if isinstance(step, IndexStep):
        return plural(len(step.platforms), "platform")
    created_by = getattr(step, "created_by", "")
    if created_by:
        return created_by if len(created_by) <= 60 else created_by[:57] + "..."
    if isinstance(step, ExportStep | PushStep):
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
    counts = _counts(planned)
    return {"version": JSON_VERSION, "steps": steps, "blocked": list(planned.blocked),
            "failures": failures_json(planned.failures),
            "warnings": list(planned.warnings), "renders": planned.renders,
            "summary": {"steps": len(steps), "stale": counts[Status.STALE], "fresh": counts[Status.FRESH],
                        "cached_remotely": counts[Status.REMOTE], "not_needed": counts[Status.NOT_NEEDED]}}


def failures_json(failures: Sequence[Failure]) -> list[dict[str, Any]]:
    return [{"what": f.what, "error": str(f.error), **error_json(f.error)} for f in failures]


def _run_json(run: StepRun) -> dict[str, Any]:
    step = run.step
    return {"kind": step.kind, "app": step.app, "version": step.version, "slot": step.slot,
            "platforms": [str(p) for p in step.platforms], "seconds": round(run.seconds, 3)}


def images_of(applied: Applied) -> list[dict[str, str]]:
    return [{"ref": ref, "digest": str(desc.digest)} for ref, desc in applied.exported]


def apply_json(applied: Applied) -> dict[str, Any]:
    """``images``: what the layout holds (its names); ``pushed``: the names pushed to a
    registry (--push-to's prefix), with the digests the registry stored."""
    pushed = [{"ref": ref, "digest": str(digest)} for ref, digest in applied.pushed]
    return {"version": JSON_VERSION, "images": images_of(applied), "pushed": pushed,
            "attached": [a.to_json() for a in applied.attached],
            "signed": [s.to_json() for s in applied.signed],
            "remote_cache": dict(applied.remote),
            "ran": [_run_json(r) for r in applied.ran],
            "cached": len(applied.planned.plan) - len(applied.ran),
            "failures": failures_json(applied.failures), "warnings": list(applied.planned.warnings),
            "renders": applied.planned.renders, "seconds": round(applied.seconds, 3),
            "layout": str(applied.planned.workspace.layout_dir)}


def print_summary(applied: Applied, printer: Printer) -> None:
    from clusterbuild.cli.summary import summary_rows, summary_table

    rows = summary_rows(applied)
    if printer.verbose or not rows:
        for image in images_of(applied):
            printer.line(f"{image['ref']}  {image['digest']}")
    for i, line in enumerate(summary_table(rows) if rows else []):
        printer.line(line, "bold" if i == 0 else "")
    for ref, digest in applied.pushed:
        printer.line(f"pushed {ref}  {digest}")
    for attached in applied.attached:
        if attached.new or printer.verbose:
            printer.line(f"attached {attached.artifact_type} {attached.artifact.short} to {attached.subject} "
                         f"({attached.via})")
    for signed in applied.signed:
        printer.line(f"signed {signed.subject} ({signed.tag}{'' if signed.new else ', already'})")
    if applied.remote:
        r = applied.remote
        printer.line(f"remote cache: {r['records']} records ({r['bundles']} bundles, {r['lookups']} look-ups "
                     f"by step) and {r['blobs']} blobs fetched ({r['bytes']} bytes), {r['uploads']} records "
                     f"and {r['bundle_uploads']} bundles stored")
    total = len(applied.planned.plan)
    ran = len(applied.ran)
    failed = f", {len(applied.failures)} failed" if applied.failures else ""
    printer.line(f"{plural(ran, 'step')} ran, {total - ran} cached{failed}, "
                 f"{applied.seconds:.2f}s; layout: {applied.planned.workspace.layout_dir}")


def found_images(planned: Planned) -> list[dict[str, Any]]:
    """Every image each app version ships, with where it was found."""
    out = []
    for step in planned.plan.steps:
        found = planned.found.get(step.key)
        if isinstance(step, ScanStep) and found is not None:
            out += [{"app": step.app, "version": step.version, **image.to_json()}
                    for image in found.images]
    return out


def print_images(planned: Planned, printer: Printer, why: bool) -> None:
    for image in found_images(planned):
        printer.line(str(image["reference"]))
        if why:
            for source in image["sources"]:
                printer.line(f"    {source}", "dim")
    for reason in planned.blocked:  # scanned once its inputs are there
        printer.line(f"not known yet: {reason} (run `clusterbuild lock` to fetch the inputs)", "yellow")
