"""Content digests of local files without rehashing unchanged ones.

A file's digest is remembered with its (size, mtime_ns, ctime_ns, inode); a
match means the content is unchanged. Files modified in the last two seconds
are hashed but not remembered, so an edit within one timestamp tick of the
hash can never be missed (git's "racy clean" rule).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from clusterbuild.cache.results import CacheIndex
from clusterbuild.oci.digest import Digest

RACY_SECONDS = 2.0
CHUNK = 1 << 20


def hash_file(path: Path) -> Digest:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return Digest(hasher.hexdigest())


class FileDigests:
    """Digests of the files of one workspace, remembered in the cache index.

    ``index=None`` or ``remember=False`` (plan) reads what is remembered and writes nothing.
    """

    def __init__(self, index: CacheIndex | None, root: Path) -> None:
        self._index = index
        self._root = str(root.resolve())
        stored = index.get("tree", self._root) if index else None
        self._known: dict[str, list[object]] = stored or {}
        self._seen: dict[str, list[object]] = {}
        self._racy: set[str] = set()
        self._now = time.time()

    def digest(self, rel: str, path: Path, st: os.stat_result) -> Digest:
        stamp: list[object] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        known = self._known.get(rel)
        unchanged = known is not None and known[:4] == stamp
        digest = Digest(str(known[4])) if known is not None and unchanged else hash_file(path)
        if self._now - st.st_mtime > RACY_SECONDS and self._now - st.st_ctime > RACY_SECONDS:
            self._seen[rel] = [*stamp, digest.hex]
        else:
            self._racy.add(rel)
        return digest

    def save(self) -> None:
        """Remember what was hashed now, on top of what was remembered before."""
        merged = {k: v for k, v in self._known.items() if k not in self._racy} | self._seen
        if self._index is not None and merged != self._known:
            self._index.put("tree", self._root, merged)

    def forget_missing(self, root: Path) -> int:
        """Drop remembered files that no longer exist under ``root`` (for ``cache gc``)."""
        kept = {k: v for k, v in self._known.items() if (root / k).exists()}
        if self._index is not None and len(kept) != len(self._known):
            self._index.put("tree", self._root, kept)
        return len(self._known) - len(kept)
