"""Which workspaces use a cache, and what each needed when it last ran.

A cache can be shared by several workspaces (``--cache-dir``). Each ``apply`` records
``roots/<hash of the root>.json``: the workspace root, when it ran, and the keys of every
step its plan holds. ``cache gc`` keeps what each recorded workspace needs: what it plans
now and these keys while its apps.yaml is still there, else these keys while they are
younger than ``--keep-days``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOTS_DIR = "roots"


@dataclass(frozen=True)
class RootRecord:
    root: Path
    used: float  # seconds since the epoch
    keys: frozenset[str]
    path: Path  # the record file

    def age_days(self, now: float) -> float:
        return (now - self.used) / 86400


def _record_path(cache_dir: Path, root: Path) -> Path:
    name = hashlib.sha256(str(root).encode()).hexdigest()[:24]
    return cache_dir / ROOTS_DIR / f"{name}.json"


def _read(path: Path) -> RootRecord | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return RootRecord(Path(doc["root"]), float(doc["used"]), frozenset(map(str, doc["keys"])), path)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged: it protects nothing


def record_root(cache_dir: Path, root: Path, keys: Iterable[str], keep_previous: bool = False) -> None:
    """Remember that ``root`` needs ``keys`` (and, with ``keep_previous``, what it needed
    before: an apply with broken app versions must not make their cache collectable).
    Rewritten only when the keys change or the record is a day old."""
    path = _record_path(cache_dir, root)
    before = _read(path)
    wanted = frozenset(keys) | (before.keys if before is not None and keep_previous else frozenset())
    if before is not None and before.keys == wanted and before.age_days(time.time()) < 1:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"root": str(root), "used": time.time(), "keys": sorted(wanted)})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)


def recorded_roots(cache_dir: Path) -> Iterator[RootRecord]:
    directory = cache_dir / ROOTS_DIR
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.json")):
        record = _read(path)
        if record is not None:
            yield record


def forget_root(record: RootRecord) -> None:
    record.path.unlink(missing_ok=True)
