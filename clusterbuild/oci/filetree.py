"""What a layer holds: a sorted list of entries, each named by content digest.

A ``FileTree`` says nothing about where file bytes live; the layer writer is
handed a resolver from digest to a readable path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from clusterbuild.oci.digest import Digest


class EntryKind(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"


@dataclass(frozen=True, order=True)
class FileEntry:
    path: str  # relative, '/'-separated, no leading '/', no trailing '/'
    kind: EntryKind
    mode: int
    size: int = 0
    digest: Digest | None = None
    link: str = ""

    def fingerprint(self) -> str:
        if self.kind is EntryKind.FILE:
            return f"file {self.mode:o} {self.digest}"
        if self.kind is EntryKind.SYMLINK:
            return f"symlink {self.link}"
        return f"dir {self.mode:o}"

    def to_json(self) -> list[Any]:
        return [self.path, self.kind.value, self.mode, self.size,
                str(self.digest) if self.digest else "", self.link]

    @classmethod
    def from_json(cls, obj: list[Any]) -> FileEntry:
        path, kind, mode, size, digest, link = obj
        return cls(path, EntryKind(kind), int(mode), int(size),
                   Digest.parse(digest) if digest else None, link)


def normalised_mode(kind: EntryKind, st_mode: int) -> int:
    """Reproducible permissions: dirs 0755, symlinks 0777, files 0644 or 0755 if any x bit."""
    if kind is EntryKind.DIR:
        return 0o755
    if kind is EntryKind.SYMLINK:
        return 0o777
    return 0o755 if st_mode & 0o111 else 0o644


def with_parents(entries: Iterable[FileEntry]) -> tuple[FileEntry, ...]:
    """Sorted entries, each preceded by every parent directory (added as 0755 dirs)."""
    by_path = {e.path: e for e in entries}
    for path in list(by_path):
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            by_path.setdefault(parent, FileEntry(parent, EntryKind.DIR, 0o755))
    return tuple(sorted(by_path.values(), key=lambda e: e.path.split("/")))
