"""When each app directory last changed in git: the ``created`` time of its images when
``SOURCE_DATE_EPOCH`` is not set. A commit time is the same in every clone, so images stay
reproducible, and ``sealos images`` shows a date people can read instead of 1970.

One ``git log`` for every directory at once, read until each directory has its latest
commit. Outside a git repository, in a shallow clone (CI: check out with ``fetch-depth: 0``),
or for a directory git never saw: no time (the caller keeps SOURCE_DATE_EPOCH's default, 0).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

GIT_TIMEOUT = 30


def _repository_root(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def commit_times(workspace: Path, dirs: Iterable[Path]) -> dict[Path, int]:
    """The commit time (seconds) of the latest commit touching each of ``dirs`` (keyed by
    the paths given)."""
    root = _repository_root(workspace.resolve())
    git = shutil.which("git")
    if root is None or git is None or (root / ".git" / "shallow").exists():
        return {}  # a shallow clone knows only its last commit: every app would change with it
    wanted = {d: d.resolve() for d in dirs}
    relative = {os.path.relpath(r, root): d for d, r in wanted.items() if r.is_relative_to(root)}
    if not relative:
        return {}
    env = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
    try:
        proc = subprocess.Popen([git, "-C", str(root), "log", "--format=@%ct", "--name-only", "--no-renames",
                                 "--", *sorted(relative)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, text=True, env=env)
    except OSError:
        return {}
    found: dict[Path, int] = {}
    try:
        assert proc.stdout is not None
        found = _read_log(proc.stdout, relative)
    finally:
        proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()
        proc.wait(timeout=GIT_TIMEOUT)
    return found


def _read_log(lines: Iterable[str], relative: dict[str, Path]) -> dict[Path, int]:
    found: dict[Path, int] = {}
    when = 0
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith("@"):
            when = int(line[1:] or 0)
            continue
        path = line
        while path:  # the line's file and each directory above it: a lookup each, not a scan
            directory = relative.get(path)
            if directory is not None and directory not in found:
                found[directory] = when
            path = path.rpartition("/")[0]
        if len(found) == len(relative):
            break
    return found
