"""Walking an app directory into a build context (``kubefile.context``): its files, hashed.

A ``Context`` maps context-relative paths to entries whose bytes live at a
known local path. Walking applies ``.dockerignore``, refuses symlinks that
leave the app directory, and never follows them.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from pathlib import Path
from typing import Protocol

from clusterbuild.errors import InputError
from clusterbuild.kubefile.context import Context, ContextFile
from clusterbuild.kubefile.patterns import IgnoreMatcher, PatternError, read_ignore_file
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry, normalised_mode

SPEC_NAME = "clusterbuild.yaml"
# a blob of a vendored registry/ tree is named by its sha256: that name is its digest while
# planning (no read), and writing the layer hashes it and refuses other bytes (one read)
_NAMED_BLOB = re.compile(r"^registry/docker/registry/v2/blobs/sha256/(?P<two>[0-9a-f]{2})/"
                         r"(?P<hex>[0-9a-f]{64})/data$")
IGNORE_NAME = ".dockerignore"


class Digester(Protocol):
    """Gives the content digest of a local file (``cache.file_digests`` remembers them)."""

    def digest(self, rel: str, path: Path, st: os.stat_result) -> Digest: ...


def _ignore_matcher(app_dir: Path) -> IgnoreMatcher | None:
    path = app_dir / IGNORE_NAME
    if not path.is_file():
        return None
    try:
        return IgnoreMatcher(read_ignore_file(path.read_text(encoding="utf-8")))
    except PatternError as exc:
        raise InputError(f"{path}: {exc}", hint="fix the pattern") from None


def check_symlink(app_dir: Path, rel: str, target: str) -> None:
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise InputError(
            f"{app_dir / rel}: symlink to {target!r} leaves the app directory",
            hint="copy the file into the app dir, or declare it as an input in clusterbuild.yaml",
        )


def walk_context(app_dir: Path, digests: Digester, digest_prefix: str) -> Context:
    """Hash every file under ``app_dir`` (``digest_prefix`` names it in the digest memory)."""
    matcher = _ignore_matcher(app_dir)
    files: dict[str, ContextFile] = {}
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(app_dir / rel_dir if rel_dir else app_dir) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if rel == SPEC_NAME:
                continue
            st = entry.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(st.st_mode)
            if matcher is not None and matcher.excludes(rel):
                if is_dir and matcher.may_include_below(rel):
                    stack.append(rel)
                continue
            files[rel] = _entry(app_dir, rel, st, digests, digest_prefix)
            if is_dir:
                stack.append(rel)
    # overlay adds the parents of re-included files: an excluded dir still holds them
    return Context(app_dir, {}).overlay(files)


def _entry(app_dir: Path, rel: str, st: os.stat_result, digests: Digester,
           prefix: str) -> ContextFile:
    path = app_dir / rel
    if stat.S_ISDIR(st.st_mode):
        return ContextFile(FileEntry(rel, EntryKind.DIR, 0o755), None)
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        check_symlink(app_dir, rel, target)
        return ContextFile(FileEntry(rel, EntryKind.SYMLINK, 0o777, link=target), None)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: not a regular file, directory or symlink",
                         hint="remove it or list it in .dockerignore")
    named = _NAMED_BLOB.match(rel)
    if named is not None and named["hex"].startswith(named["two"]):
        digest = Digest(named["hex"])
    else:
        digest = digests.digest(f"{prefix}/{rel}", path, st)
    mode = normalised_mode(EntryKind.FILE, st.st_mode)
    return ContextFile(FileEntry(rel, EntryKind.FILE, mode, st.st_size, digest), path)
