"""How a run shows itself while it works: a live display on a terminal (a line per running
step, bytes, rate and ETA per transfer, the phase), plain lines in pipes, CI (``CI=true``) or
with ``--plain``, JSON lines with ``--json-events``, nothing with ``--json``.

``RunEvents`` is what the run talks to (step progress and the transfer meter); it turns
both into events (``execute.events``) for the one sink chosen here."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from clusterbuild.execute.events import Event, EventSink, emit, sink_for
from clusterbuild.places.transfers import set_transfer_meter
from clusterbuild.plan.steps import Step

PROGRESS_EVERY = 0.1  # seconds between transfer-progress events of one transfer
PLAIN_EVERY = 5.0  # seconds between plain progress lines of one transfer


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def _step_fields(step: Step) -> dict[str, Any]:
    return {"step": step.label, "kind": step.kind, "app": step.app, "version": step.version,
            "platforms": [str(p) for p in step.platforms]}


@dataclass
class _Transfer:
    what: str
    total: int | None
    start: float
    done: int = 0
    sent_at: float = 0.0


class RunEvents:
    """Step progress (the runner's ``Progress``) and the transfer meter, as events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transfers: dict[int, _Transfer] = {}

    def started(self, step: Step) -> None:
        emit("step-started", **_step_fields(step))

    def finished(self, step: Step, seconds: float) -> None:
        emit("step-finished", **_step_fields(step), seconds=round(seconds, 3))

    def transfer_started(self, transfer: int, what: str, total: int | None) -> None:
        with self._lock:
            self._transfers[transfer] = _Transfer(what, total, time.monotonic())
        emit("transfer-started", id=transfer, what=what, total=total)

    def transfer_advanced(self, transfer: int, done: int) -> None:
        now = time.monotonic()
        with self._lock:
            state = self._transfers.get(transfer)
            if state is None:
                return
            state.done = done
            if now - state.sent_at < PROGRESS_EVERY:
                return
            state.sent_at = now
            rate = done / max(now - state.start, 1e-3)
        emit("transfer-progress", id=transfer, what=state.what, done=done, total=state.total,
             rate=round(rate))

    def transfer_finished(self, transfer: int) -> None:
        with self._lock:
            state = self._transfers.pop(transfer, None)
        if state is not None:
            emit("transfer-finished", id=transfer, what=state.what, done=state.done,
                 seconds=round(time.monotonic() - state.start, 3))


class _Meter:
    """``places.transfers.TransferMeter`` over ``RunEvents``."""

    def __init__(self, events: RunEvents) -> None:
        self.events = events

    def started(self, transfer: int, what: str, total: int | None) -> None:
        self.events.transfer_started(transfer, what, total)

    def advanced(self, transfer: int, done: int) -> None:
        self.events.transfer_advanced(transfer, done)

    def finished(self, transfer: int) -> None:
        self.events.transfer_finished(transfer)


class JsonLines:
    """One JSON object per event and line (``--json-events``), flushed at once."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        with self._lock:
            self.out.write(json.dumps(event.to_json()) + "\n")
            self.out.flush()


def _rate_text(done: int, total: int | None, rate: float) -> str:
    eta = f"  ETA {max(0, (total - done)) / rate:.0f}s" if total and rate > 0 else ""
    of = f" / {human_bytes(total)}" if total else ""
    return f"{human_bytes(done)}{of}  {human_bytes(rate)}/s{eta}"


class PlainLines:
    """Line-based output for logs: phases, finished steps, a transfer line every few seconds."""

    def __init__(self, out: TextIO, verbose: bool = False) -> None:
        self.out, self.verbose = out, verbose
        self._lock = threading.Lock()
        self._printed: dict[int, float] = {}

    def _line(self, text: str) -> None:
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()

    def emit(self, event: Event) -> None:
        f = event.fields
        if event.kind == "phase":
            self._line(f"{f['name']}...")
        elif event.kind == "step-started" and self.verbose:
            self._line(f"  … {f['step']}")
        elif event.kind == "step-finished":
            self._line(f"  ✓ {f['step']}  {f['seconds']:.2f}s")
        elif event.kind == "transfer-started":
            self._printed[f["id"]] = time.monotonic()
        elif event.kind == "transfer-progress":
            now = time.monotonic()
            if now - self._printed.get(f["id"], now) >= PLAIN_EVERY:
                self._printed[f["id"]] = now
                self._line(f"  ↓ {f['what']}  {_rate_text(f['done'], f['total'], f['rate'])}")
        elif event.kind == "transfer-finished":
            started = self._printed.pop(f["id"], None)
            if started is not None and f["seconds"] >= 1:  # short ones are noise in a log
                rate = f["done"] / max(f["seconds"], 1e-3)
                self._line(f"  ↓ {f['what']}  {human_bytes(f['done'])} in {f['seconds']:.1f}s "
                           f"({human_bytes(rate)}/s)")


def plain_wanted(plain: bool, environ: dict[str, str] | None = None, stream: TextIO | None = None) -> bool:
    """Plain lines rather than a live display: asked for, in CI, a dumb terminal or no TTY."""
    env = os.environ if environ is None else environ
    out = stream or sys.stdout
    ci = env.get("CI", "").lower() not in ("", "0", "false", "no")
    return plain or ci or env.get("TERM") == "dumb" or not out.isatty()


@contextmanager
def run_display(*, plain: bool, json_events: bool, verbose: bool) -> Iterator[RunEvents]:
    """The events of a run shown as asked: JSON lines, plain lines or live."""
    events = RunEvents()
    with ExitStack() as stack:
        sink: EventSink
        if json_events:
            sink = JsonLines(sys.stdout)
        elif plain_wanted(plain):
            sink = PlainLines(sys.stdout, verbose)
        else:
            from clusterbuild.cli.live import LiveDisplay

            sink = stack.enter_context(LiveDisplay.running(verbose))
        stack.enter_context(sink_for(sink))
        set_transfer_meter(_Meter(events))
        stack.callback(set_transfer_meter, None)
        yield events
