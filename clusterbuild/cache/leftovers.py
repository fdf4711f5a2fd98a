"""What an interrupted or killed run leaves behind, removed by the next ``apply`` and by
``cache gc``: temp files named after their process (``.<name>.<pid>[.<thread>].tmp`` in the
layout, its archives and the cache; ``<pid>.*`` in the store's ``tmp/``) and init.sh
scratch dirs (``scratch/<key>.<pid>``), whenever that process is gone. Nothing a live
process writes is touched."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from clusterbuild.cache.store import BlobStore, process_alive

_TEMP = re.compile(r"^\..+\.(?P<pid>\d+)(?:\.\d+)?\.tmp$")
_SCRATCH = re.compile(r"^[0-9a-f]{16}\.(?P<pid>\d+)$")


def _dead(pattern: re.Pattern[str], name: str) -> bool:
    match = pattern.match(name)
    return match is not None and not process_alive(int(match.group("pid")))


def _remove_temp_files(directory: Path) -> int:
    removed = 0
    if directory.is_dir():
        for entry in os.scandir(directory):
            if entry.is_file(follow_symlinks=False) and _dead(_TEMP, entry.name):
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
    return removed


def remove_leftovers(cache_dir: Path, layout_dir: Path | None = None) -> int:
    """Remove what dead runs left; return how many entries went."""
    BlobStore(cache_dir).clean_temp()
    removed = 0
    scratch = cache_dir / "scratch"
    if scratch.is_dir():
        for entry in os.scandir(scratch):
            if _dead(_SCRATCH, entry.name):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
    directories = [cache_dir / "roots"]
    if layout_dir is not None:
        directories += [layout_dir, layout_dir / "blobs" / "sha256", layout_dir / "archives"]
    return removed + sum(_remove_temp_files(d) for d in directories)
