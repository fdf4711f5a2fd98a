"""The events of a run, for displays and CI dashboards: phases, steps, transfers, images.

Code that does the work calls ``emit``; at most one sink (set by the CLI with ``sink_for``)
turns events into a live display, plain lines or JSON lines. Without a sink, ``emit`` does
nothing. Every event has a ``kind`` and plain JSON fields, its ``data`` (see docs/json.md):

    phase               name ("resolving inputs", "fetching inputs", "scanning images",
                        "pinning images", "planning", "building")
    step-started        step (label), kind, app, version, platforms
    step-finished       the same, and seconds
    transfer-started    id, what (URL or repository@digest), total (bytes or null)
    transfer-progress   id, done, total, rate (bytes/s)
    transfer-finished   id, done, seconds
    image               ref, digest
    summary             the end of a run (the --json object of apply)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

EVENTS_VERSION = 1


@dataclass(frozen=True)
class Event:
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"version": EVENTS_VERSION, "event": self.kind, "time": round(self.at, 3),
                "data": self.fields}


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


_sinks: list[EventSink] = []


def emit(kind: str, /, **fields: Any) -> None:
    for sink in _sinks:
        sink.emit(Event(kind, fields))


def phase(name: str) -> None:
    emit("phase", name=name)


@contextmanager
def sink_for(sink: EventSink) -> Iterator[EventSink]:
    """Send the events of the block to ``sink`` (one at a time; the previous one returns after)."""
    previous = list(_sinks)
    _sinks[:] = [sink]
    try:
        yield sink
    finally:
        _sinks[:] = previous
