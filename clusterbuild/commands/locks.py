"""Locks between processes (``fcntl.flock``; released by the kernel when a process dies).

* The workspace: ``apply`` and ``lock`` hold ``<workspace>/.clusterbuild.lock``
  exclusively (they write ``out/`` and ``apps.lock``); a second one waits, saying so, or
  gives up after ``--lock-timeout`` seconds.
* The cache: every command that reads or writes a cache holds a shared lease on
  ``<cache>/lease.lock``; ``cache gc`` takes it exclusively, so it never deletes what a
  running build is about to use.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from clusterbuild.cache.noop_records import CACHE_LEASE, WORKSPACE_LOCK
from clusterbuild.errors import BuildError, CacheError

POLL_SECONDS = 0.1


@contextmanager
def hold(path: Path, *, exclusive: bool, timeout: float | None, what: str,
         notify: Callable[[str], None]) -> Iterator[None]:
    """Hold ``path`` locked (exclusive or shared) for the block; wait up to ``timeout``
    seconds (None: as long as it takes), telling ``notify`` once that it waits."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise CacheError(f"cannot open the lock {path}: {exc.strerror or exc}",
                         hint="check permissions of the directory") from None
    try:
        _acquire(fd, exclusive, timeout, what, notify)
        yield
    finally:
        os.close(fd)  # releases the lock


def _acquire(fd: int, exclusive: bool, timeout: float | None, what: str,
             notify: Callable[[str], None]) -> None:
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = None if timeout is None else time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if deadline is not None and time.monotonic() >= deadline:
            raise BuildError(f"{what} is in use by another clusterbuild process "
                             f"(waited {timeout:g}s)",
                             hint="wait for it to finish, or raise --lock-timeout")
        if not told:
            notify(f"waiting for {what}: another clusterbuild process is using it")
            told = True
        time.sleep(POLL_SECONDS)


def hold_workspace(root: Path, timeout: float | None,
                   notify: Callable[[str], None]) -> AbstractContextManager[None]:
    return hold(root / WORKSPACE_LOCK, exclusive=True, timeout=timeout,
                what=f"the workspace {root}", notify=notify)


def hold_cache(cache_dir: Path, *, exclusive: bool, timeout: float | None,
               notify: Callable[[str], None]) -> AbstractContextManager[None]:
    return hold(cache_dir / CACHE_LEASE, exclusive=exclusive, timeout=timeout,
                what=f"the cache {cache_dir}", notify=notify)

