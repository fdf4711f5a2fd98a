"""Running transfers on a bounded thread pool, stopping at the first failure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")


def run_parallel(jobs: int, tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``tasks`` on at most ``jobs`` threads; results in task order.

    On the first failure, tasks not yet started are cancelled and that failure is raised
    once the running ones have finished (temp files of the store are cleaned by then)."""
    if len(tasks) <= 1 or jobs <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=min(jobs, len(tasks)), thread_name_prefix="registry") as pool:
        futures = [pool.submit(task) for task in tasks]
        _, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]
    return [future.result() for future in futures]
