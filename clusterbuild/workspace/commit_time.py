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
    """The commit time (seconds) of the latest commit touching each of ``dirs``."""
    wanted = {d.resolve() for d in dirs}
    root = _repository_root(workspace.resolve())
    git = shutil.which("git")
    if root is None or git is None or not wanted or (root / ".git" / "shallow").exists():
        return {}  # a shallow clone knows only its last commit: every app would change with it
    relative = {os.path.relpath(d, root): d for d in wanted if d.is_relative_to(root)}
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
        for rel, directory in relative.items():
            if directory not in found and (line == rel or line.startswith(rel + "/")):
                found[directory] = when
        if len(found) == len(relative):
            break
    return found
