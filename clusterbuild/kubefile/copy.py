"""COPY/ADD semantics over a build context, as Docker applies them.

- A source directory copies its *contents* into the destination.
- A file goes to ``dest`` itself, or into it when ``dest`` ends with '/', is an
  existing directory of the image, or there are several sources.
- Globs use Go's ``filepath.Match`` on context paths; ``..`` never leaves the context.
- A symlink named as a source is followed; symlinks inside directories are kept.
- ``--exclude`` patterns are ``.dockerignore``-style, relative to each source directory.
- ADD of a local tar archive (found by content, as BuildKit does) is an error: it would unpack.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path

from clusterbuild.errors import InputError
from clusterbuild.kubefile.context import Context, ContextFile
from clusterbuild.kubefile.evaluate import CopyOp
from clusterbuild.kubefile.patterns import IgnoreMatcher, PatternError, match_path
from clusterbuild.oci.filetree import EntryKind, FileEntry

_GLOB = re.compile(r"[*?\[\\]")


@dataclass(frozen=True)
class Placed:
    entry: FileEntry  # entry.path is the path in the image (no leading '/')
    source: Path | None


def _clean_source(op: CopyOp, src: str) -> str:
    cleaned = posixpath.normpath("/" + src).lstrip("/")
    relative = posixpath.normpath(src)
    if relative == ".." or relative.startswith("../"):
        raise InputError(f"{op.where}: {src!r} is outside the build context (the app dir)",
                         hint="move the file into the app dir or declare it in clusterbuild.yaml")
    return "" if cleaned == "." else cleaned


def _matches(op: CopyOp, context: Context, src: str) -> list[str]:
    if src == "":
        return [""]
    if not _GLOB.search(src):
        if src not in context.files:
            raise InputError(f"{op.where}: {src!r} not found in the build context",
                             hint=f"check the path under {context.root}")
        return [src]
    try:
        found = sorted(p for p in context.files if match_path(src, p))
    except PatternError as exc:
        raise InputError(f"{op.where}: {exc}") from None
    if not found:
        raise InputError(f"{op.where}: no file matches {src!r} in the build context",
                         hint=f"check the pattern against {context.root}")
    return found


def _follow(op: CopyOp, context: Context, path: str, depth: int = 0) -> tuple[str, ContextFile]:
    """The context path a source names, following symlinks, and its entry."""
    item = context.files[path] if path else ContextFile(FileEntry("", EntryKind.DIR, 0o755), None)
    if item.entry.kind is not EntryKind.SYMLINK:
        return path, item
    target = posixpath.normpath(posixpath.join(posixpath.dirname(path), item.entry.link))
    target = "" if target == "." else target
    if depth > 16 or (target and target not in context.files):
        raise InputError(f"{op.where}: symlink {path!r} points to a missing file",
                         hint="fix the link or copy its target instead")
    return _follow(op, context, target, depth + 1)


def _exclude_matcher(op: CopyOp) -> IgnoreMatcher | None:
    try:
        return IgnoreMatcher(op.excludes) if op.excludes else None
    except PatternError as exc:
        raise InputError(f"{op.where}: --exclude {exc}", hint="fix the pattern") from None


def _is_archive(path: Path | None) -> bool:
    """BuildKit's test for ADD: a tar, maybe compressed, whose first header reads."""
    if path is None:
        return False
    try:
        with tarfile.open(path, "r:*") as tar:
            return tar.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def _place(entry: FileEntry, image_path: str, source: Path | None, chmod: int | None) -> Placed:
    mode = entry.mode if chmod is None or entry.kind is EntryKind.SYMLINK else chmod
    if image_path == entry.path and mode == entry.mode:  # most COPY . . entries: no new object
        return Placed(entry, source)
    return Placed(replace(entry, path=image_path, mode=mode), source)


def resolve_copy(op: CopyOp, context: Context, image_dirs: set[str]) -> list[Placed]:
    """What ``op`` puts into the image; ``image_dirs`` are directories earlier layers made."""
    sources = [m for src in op.sources for m in _matches(op, context, _clean_source(op, src))]
    dest = op.dest.lstrip("/").rstrip("/")
    into_dir = op.dest.endswith("/") or len(sources) > 1 or dest in image_dirs or dest == ""
    if len(sources) > 1 and not op.dest.endswith("/"):
        raise InputError(f"{op.where}: several sources need a destination directory ending in '/'",
                         hint=f"write {op.dest}/")
    excludes = _exclude_matcher(op)
    placed: list[Placed] = []
    for src in sources:
        resolved, item = _follow(op, context, src)
        if item.entry.kind is EntryKind.DIR:
            placed += _copy_dir(op, context, resolved, dest, excludes)
            continue
        if op.is_add and _is_archive(item.source):
            raise InputError(f"{op.where}: ADD {src} would unpack the archive, which is not "
                             "supported", hint="use COPY to copy it as is, or unpack it first")
        name = posixpath.basename(src)
        target = posixpath.join(dest, name) if into_dir else dest
        placed.append(_place(item.entry, target, item.source, op.chmod))
    return placed


def _copy_dir(op: CopyOp, context: Context, src: str, dest: str,
              excludes: IgnoreMatcher | None) -> list[Placed]:
    prefix = f"{src}/" if src else ""
    placed = []
    if dest:
        placed.append(Placed(FileEntry(dest, EntryKind.DIR, op.chmod or 0o755), None))
    for path, item in context.files.items():
        if not path.startswith(prefix):
            continue
        rel = path[len(prefix):]
        if excludes is not None and excludes.excludes(rel):
            continue
        placed.append(_place(item.entry, posixpath.join(dest, rel) if dest else rel,
                             item.source, op.chmod))
    return placed
