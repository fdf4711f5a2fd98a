"""Where blobs were seen: (registry host, digest) -> repositories, for cross-repository mounts.

A small in-memory record kept for a client's lifetime: the most recent ``capacity``
digests, a few repositories each.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from clusterbuild.oci.digest import Digest

REPOS_PER_BLOB = 4


class BlobLocations:
    def __init__(self, capacity: int = 50_000) -> None:
        self._seen: OrderedDict[tuple[str, Digest], list[str]] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def add(self, host: str, digest: Digest, repository: str) -> None:
        key = (host, digest)
        with self._lock:
            repos = self._seen.pop(key, [])
            if repository in repos:
                repos.remove(repository)
            self._seen[key] = [repository, *repos][:REPOS_PER_BLOB]
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)

    def elsewhere(self, host: str, digest: Digest, repository: str) -> str | None:
        """Another repository of ``host`` known to hold ``digest``, if any."""
        with self._lock:
            return next((r for r in self._seen.get((host, digest), []) if r != repository), None)

    def holds(self, host: str, digest: Digest, repository: str) -> bool:
        """``repository`` of ``host`` is known to hold ``digest`` (pushed or seen there)."""
        with self._lock:
            return repository in self._seen.get((host, digest), [])

    def known(self, host: str, digest: Digest) -> bool:
        """Some repository of ``host`` is known to hold ``digest``."""
        with self._lock:
            return bool(self._seen.get((host, digest)))
