"""Child processes of a run (init.sh, buildah), each in its own process group, so that an
interrupted or terminated clusterbuild stops them with it instead of leaving them to run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading

_LOCK = threading.Lock()
_RUNNING: dict[int, subprocess.Popen[bytes] | subprocess.Popen[str]] = {}


def started(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Remember ``proc`` (started with ``start_new_session=True``) until ``ended``."""
    with _LOCK:
        _RUNNING[proc.pid] = proc


def ended(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    with _LOCK:
        _RUNNING.pop(proc.pid, None)


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def kill_all() -> int:
    """Kill every running child's process group; return how many there were."""
    with _LOCK:
        running = list(_RUNNING.values())
        _RUNNING.clear()
    for proc in running:
        kill_group(proc.pid)
    for proc in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    return len(running)
