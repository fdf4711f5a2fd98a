"""What the cache remembers about steps, stored as JSON in a diskcache database.

- ``step/<key>``: the outputs of the step whose key is ``key`` (descriptors,
  digests): present means the step ran to completion with these results.
- ``slot/<slot>``: for a stable step identity (kind, app, version, platform,
  position), the key and fingerprint of its last run, so ``plan`` can say which
  input changed.
- ``tree/<dir>``: file digests of a directory, keyed by stat data (see ``file_digests``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import diskcache_community as diskcache

from clusterbuild.cache.noop_records import SQLITE_DIR
from clusterbuild.errors import CacheError


class CacheIndex:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._db: Any = None

    def _open(self) -> Any:
        if self._db is None:
            try:
                self._db = diskcache.Cache(
                    str(self.root / SQLITE_DIR), disk=diskcache.JSONDisk,
                    eviction_policy="none", size_limit=2**62,
                )
            except OSError as exc:
                raise CacheError(f"cannot open cache index under {self.root}: {exc}",
                                 hint="check permissions or pass --cache-dir") from exc
            except sqlite3.DatabaseError as exc:  # not a database: the cache is unusable (exit 5)
                raise CacheError(f"the cache index {self.root / SQLITE_DIR} is corrupt ({exc})",
                                 hint=f"remove {self.root / SQLITE_DIR} (step results are rebuilt, "
                                 "blobs are kept) or pass --cache-dir") from exc
        return self._db

    def exists(self) -> bool:
        return (self.root / SQLITE_DIR / "cache.db").exists()

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        if self._db is None and not self.exists():
            return None  # reading never creates the cache (plan stays write-free)
        return cast(dict[str, Any] | None, self._open().get(f"{namespace}/{name}"))

    def put(self, namespace: str, name: str, value: dict[str, Any]) -> None:
        self._open().set(f"{namespace}/{name}", value)

    def put_many(self, items: Sequence[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Several records in one transaction (one commit instead of one per record)."""
        if not items:
            return
        db = self._open()
        with db.transact():
            for namespace, name, value in items:
                db.set(f"{namespace}/{name}", value)

    def delete(self, namespace: str, name: str) -> None:
        self._open().delete(f"{namespace}/{name}")

    def names(self, namespace: str) -> Iterator[str]:
        if not self.exists():
            return
        prefix = f"{namespace}/"
        for key in list(self._open().iterkeys()):
            if isinstance(key, str) and key.startswith(prefix):
                yield key[len(prefix):]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
