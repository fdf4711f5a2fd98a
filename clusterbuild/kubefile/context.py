"""A build context as COPY sees it: context-relative paths to entries whose bytes live at a
known local path. A value: walking a directory into one is ``workspace.context``'s job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clusterbuild.oci.filetree import EntryKind, FileEntry


@dataclass(frozen=True)
class ContextFile:
    entry: FileEntry  # entry.path is relative to the context root
    source: Path | None  # where the bytes are (files only)


@dataclass(frozen=True)
class Context:
    root: Path
    files: dict[str, ContextFile]

    def overlay(self, extra: dict[str, ContextFile]) -> Context:
        merged = dict(self.files)
        for path, item in extra.items():
            parts = path.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                merged.setdefault(parent, ContextFile(FileEntry(parent, EntryKind.DIR, 0o755), None))
            merged[path] = item
        return Context(self.root, merged)

    def without(self, dirs: tuple[str, ...]) -> Context:
        """The context without ``dirs`` and everything under them."""
        if not dirs:
            return self
        kept = {p: f for p, f in self.files.items() if not any(p == d or p.startswith(d + "/") for d in dirs)}
        return Context(self.root, kept)
