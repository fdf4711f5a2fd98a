"""What every network transfer here shares: reading ``Retry-After``, a bounded thread pool, and
the byte meter a display hooks into (``set_transfer_meter``; ``metered`` around each stream)."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:  # httpx costs 0.15 s of start-up: a no-op apply never needs it
    import httpx

T = TypeVar("T")


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (it may be a number of seconds or an HTTP date)."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def run_parallel(jobs: int, tasks: Sequence[Callable[[], T]], name: str = "transfer") -> list[T]:
    """Run ``tasks`` on at most ``jobs`` threads; results in task order.

    On the first failure, tasks not yet started are cancelled and that failure is raised
    once the running ones have finished (temp files of the store are cleaned by then)."""
    if len(tasks) <= 1 or jobs <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=min(jobs, len(tasks)), thread_name_prefix=name) as pool:
        futures = [pool.submit(task) for task in tasks]
        _, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
    for future in futures:
        error = None if future.cancelled() else future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]


class TransferMeter(Protocol):
    """Told about every byte stream (download, pull, push) as it moves; must be thread-safe."""

    def started(self, transfer: int, what: str, total: int | None) -> None: ...
    def advanced(self, transfer: int, done: int) -> None: ...  # bytes so far, in all
    def finished(self, transfer: int) -> None: ...


_meter: list[TransferMeter] = []  # at most one: the CLI's display, when it shows transfers
_ids = itertools.count(1)


def set_transfer_meter(meter: TransferMeter | None) -> None:
    _meter[:] = [meter] if meter is not None else []


@contextmanager
def metered(what: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A transfer of ``total`` bytes (None: unknown): call the function it gives with the bytes
    done so far. With no meter set it costs one list lookup per call."""
    if not _meter:
        yield _ignore
        return
    meter, transfer = _meter[0], next(_ids)
    meter.started(transfer, what, total)
    try:
        yield functools.partial(meter.advanced, transfer)
    finally:
        meter.finished(transfer)


def _ignore(done: int) -> None:
    pass
