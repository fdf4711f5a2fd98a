"""A thread pool that an interrupt does not wait for.

``with ThreadPoolExecutor()`` joins its threads on the way out, so a Ctrl-C in the main
thread would wait for every running step (an init.sh of half an hour). Here an exception
leaves at once: queued work is cancelled and running threads are abandoned (the CLI then
stops child processes and exits; nothing is recorded before it is complete)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


@contextmanager
def thread_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
