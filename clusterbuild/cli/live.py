"""The live display on a terminal (rich): the phase, a spinner line per running step, and a
bar per transfer with bytes, rate and ETA; finished steps scroll above it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from clusterbuild.execute.events import Event

REFRESHES_PER_SECOND = 8
_current: list[Live] = []  # the running display, stopped by an interrupt before the process exits


def stop_live_display() -> None:
    """Leave the terminal usable (cursor shown, last frame kept) when the process ends now."""
    for live in _current:
        live.stop()


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


class LiveDisplay:
    def __init__(self, console: Console, verbose: bool) -> None:
        self.console, self.verbose = console, verbose
        self.phase = Text("starting", style="bold")
        self.steps = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                              console=console)
        self.transfers = Progress(TextColumn("  ↓ {task.description}"), BarColumn(bar_width=24),
                                  DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                                  console=console)
        self._lock = threading.Lock()
        self._step_tasks: dict[str, TaskID] = {}
        self._transfer_tasks: dict[int, TaskID] = {}
        self.live = Live(Group(self.phase, self.steps, self.transfers), console=console,
                         refresh_per_second=REFRESHES_PER_SECOND, transient=True)

    @classmethod
    @contextmanager
    def running(cls, verbose: bool) -> Iterator[LiveDisplay]:
        display = cls(Console(highlight=False), verbose)
        with display.live:
            _current.append(display.live)
            try:
                yield display
            finally:
                _current.remove(display.live)

    def emit(self, event: Event) -> None:
        with self._lock:
            handler = getattr(self, "_" + event.kind.replace("-", "_"), None)
            if handler is not None:
                handler(event.fields)

    def _phase(self, f: dict[str, Any]) -> None:
        self.phase.plain = f"{f['name']}…"

    def _step_started(self, f: dict[str, Any]) -> None:
        self._step_tasks[f["step"]] = self.steps.add_task(_short(f["step"], 90), total=None)

    def _step_finished(self, f: dict[str, Any]) -> None:
        task = self._step_tasks.pop(f["step"], None)
        if task is not None:
            self.steps.remove_task(task)
        self.console.print(Text(f"  ✓ {f['step']}  {f['seconds']:.2f}s", style="green"))

    def _transfer_started(self, f: dict[str, Any]) -> None:
        self._transfer_tasks[f["id"]] = self.transfers.add_task(_short(f["what"]), total=f["total"])

    def _transfer_progress(self, f: dict[str, Any]) -> None:
        task = self._transfer_tasks.get(f["id"])
        if task is not None:
            self.transfers.update(task, completed=f["done"], total=f["total"])

    def _transfer_finished(self, f: dict[str, Any]) -> None:
        task = self._transfer_tasks.pop(f["id"], None)
        if task is not None:
            self.transfers.remove_task(task)
