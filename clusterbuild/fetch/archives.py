"""Unpacking a fetched archive into the content store as a list of ``FileEntry``.

    entries = unpack(store.path(fetched.digest), "tar.gz", store, members=["linux-arm64/helm"],
                     strip_components=1)

Nothing is written outside the store: every selected regular file streams into a blob, and
directories and symlinks become entries. Kinds: ``tar`` (also compressed with xz or bzip2),
``tar.gz``/``tgz``, ``zip``, ``gz`` (one compressed file) and ``file`` (the blob as is);
``None`` detects the kind from the content. An archive is refused with a one-line
``ArchiveRefused`` (bad input, exit 3; the blobs it made are removed again) for absolute or
``..`` member names (anywhere in it), links pointing outside the extracted tree, device
files and fifos (among the members extracted: a source archive may hold an odd link beside
the chart directory wanted), broken archives, and when its expanded size passes
``max_bytes`` (counted while streaming, before the bytes are written, whatever the headers
claim: zip bombs). Member selection and stripping: see ``members``.
"""

from __future__ import annotations

import gzip
import lzma
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import InputError
from clusterbuild.fetch.members import REFUSED, ArchiveRefused, Selection, clean_name, link_inside
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry, normalised_mode

Kind = Literal["tar", "tar.gz", "tgz", "zip", "gz", "file"]
READ_SIZE = 1 << 20
MAX_LINK = 4096
_BROKEN = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError,
           NotImplementedError)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Budget:
    """The expanded bytes an archive may still produce, and the blobs it created so far
    (removed again when the archive is refused)."""

    def __init__(self, max_bytes: int, doing: str, limit_hint: str) -> None:
        self.left = max_bytes
        self.max_bytes = max_bytes
        self.doing = doing
        self.limit_hint = limit_hint
        self.created: list[Digest] = []

    def take(self, size: int) -> None:
        """Count ``size`` bytes before they are written anywhere."""
        self.left -= size
        if self.left < 0:
            raise ArchiveRefused(f"{self.doing}: the archive expands to more than "
                                 f"{format_size(self.max_bytes)}", hint=self.limit_hint)


def format_size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


DEFAULT_LIMIT_HINT = ("a decompression bomb, or a genuinely large archive: then set `max_size` on "
                      "the input in clusterbuild.yaml")


def detect_kind(path: Path) -> Kind:
    """The archive kind from the first bytes (and, for gzip, the first decompressed block)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path) as inner:
                return "tar.gz" if _is_tar(inner.read(512)) else "gz"
        except _BROKEN:
            return "gz"  # unpacking will say what is wrong with it
    if head.startswith((b"\xfd7zXZ\x00", b"BZh")) or _is_tar(head):
        return "tar"
    return "file"


def _is_tar(block: bytes) -> bool:
    try:
        tarfile.TarInfo.frombuf(block[:512], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def unpack(blob_path: Path, kind: Kind | None, store: BlobStore, members: Sequence[str] | None = None,
           strip_components: int = 0, max_bytes: int = 4 << 30, what: str = "",
           name: str = "", limit_hint: str = DEFAULT_LIMIT_HINT) -> list[FileEntry]:
    """The entries of the archive at ``blob_path``, their files stored; sorted by path.

    ``members`` selects archive paths (files, whole directories, or globs); a requested one
    that is missing is an error listing what is there. For ``gz`` and ``file`` the single
    entry is called ``name`` (default: the name gzip recorded, else ``file``), and
    ``members`` and ``strip_components`` do not apply. When the archive is refused
    (ArchiveRefused: hostile members, too large, not an archive), the blobs it created
    are removed again: the store is left as it was."""
    doing = f"unpacking {what or blob_path.name}"
    kind = kind or detect_kind(blob_path)
    budget = Budget(max_bytes, doing, limit_hint)
    try:
        return _unpack(blob_path, kind, store, members, strip_components, name, budget)
    except ArchiveRefused:
        for digest in budget.created:
            if store.has(digest):
                store.remove(digest)
        raise


def _unpack(blob_path: Path, kind: Kind, store: BlobStore, members: Sequence[str] | None,
            strip_components: int, name: str, budget: Budget) -> list[FileEntry]:
    try:
        if kind in ("file", "gz"):
            return [_single_file(blob_path, kind, name, store, budget)]
        selection = Selection(members, strip_components, budget.doing)
        entries = _unpack_zip(blob_path, selection, store, budget) if kind == "zip" else \
            _unpack_tar(blob_path, selection, store, budget)
    except _BROKEN as e:
        raise ArchiveRefused(f"{budget.doing}: not a valid {kind} archive ({type(e).__name__}: "
                             f"{' '.join(str(e).split())})", hint="check the URL and the archive kind") from e
    selection.check_found()
    return sorted(entries.values(), key=lambda e: e.path.split("/"))


def _store_file(source: Readable, path: str, mode: int, store: BlobStore, budget: Budget) -> FileEntry:
    """Stream ``source`` into the store, counted against the budget."""
    with store.writer() as out:
        while chunk := source.read(READ_SIZE):
            budget.take(len(chunk))
            out.write(chunk)
    if out.created:
        budget.created.append(out.digest)
    return FileEntry(path, EntryKind.FILE, normalised_mode(EntryKind.FILE, mode), out.size, out.digest)


def _single_file(path: Path, kind: Kind, name: str, store: BlobStore, budget: Budget) -> FileEntry:
    if kind == "gz":
        with gzip.open(path) as source:
            return _store_file(source, name or _gzip_name(path) or "file", 0o644, store, budget)
    with open(path, "rb") as source:
        return _store_file(source, name or "file", 0o644, store, budget)


def _gzip_name(path: Path) -> str:
    """The file name a gzip header records (FNAME), without directories; '' when absent."""
    with open(path, "rb") as f:
        header = f.read(10)
        if len(header) < 10 or not header[3] & 0x08:
            return ""
        if header[3] & 0x04:
            f.read(int.from_bytes(f.read(2), "little"))  # FEXTRA
        raw = f.read(1024).split(b"\0", 1)[0]
    return raw.decode("latin-1").replace("\\", "/").rsplit("/", 1)[-1].strip(". ")


def _unpack_tar(path: Path, selection: Selection, store: BlobStore, budget: Budget) -> dict[str, FileEntry]:
    entries: dict[str, FileEntry] = {}
    by_name: dict[str, FileEntry] = {}  # stored files by archive name, for hard links
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            target = selection.target(member.name)
            if target is None:
                continue
            entry = _tar_entry(tar, member, target, selection, store, budget, by_name)
            entries[target] = entry
            if entry.kind is EntryKind.FILE:
                by_name[clean_name(member.name, selection.doing)] = entry
    return entries


def _tar_entry(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, selection: Selection,
               store: BlobStore, budget: Budget, by_name: dict[str, FileEntry]) -> FileEntry:
    doing = selection.doing
    if member.isdir():
        return FileEntry(path, EntryKind.DIR, 0o755)
    if member.issym():
        return FileEntry(path, EntryKind.SYMLINK, 0o777, link=link_inside(path, member.linkname, doing))
    if member.islnk():
        source = _hardlink_source(member, selection)
        if source in by_name:
            known = by_name[source]
            return FileEntry(path, EntryKind.FILE, normalised_mode(EntryKind.FILE, member.mode),
                             known.size, known.digest)
    elif not member.isfile():
        raise ArchiveRefused(f"{doing}: member {member.name!r} is a {_special_kind(member)}, not a file",
                             hint=REFUSED)
    try:
        data = tar.extractfile(member)  # for a hard link: its source's bytes
    except KeyError:
        data = None
    if data is None:
        raise ArchiveRefused(f"{doing}: hard link {member.name!r} -> {member.linkname!r} does not name a "
                             "file before it in the archive", hint="the archive is broken")
    with data:
        return _store_file(data, path, member.mode, store, budget)


def _hardlink_source(member: tarfile.TarInfo, selection: Selection) -> str:
    """The archive name a hard link refers to; it must land inside the extracted tree."""
    try:
        source = clean_name(member.linkname, selection.doing)
    except ArchiveRefused:
        source = ""
    if not source or selection.stripped(source) is None:
        raise ArchiveRefused(f"{selection.doing}: hard link {member.name!r} -> {member.linkname!r} points "
                             "outside the archive", hint=REFUSED)
    return source


def _special_kind(member: tarfile.TarInfo) -> str:
    if member.ischr() or member.isblk():
        return "device file"
    return "fifo" if member.isfifo() else f"special file (type {member.type!r})"


def _unpack_zip(path: Path, selection: Selection, store: BlobStore, budget: Budget) -> dict[str, FileEntry]:
    entries: dict[str, FileEntry] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            target = selection.target(info.filename)
            if target is not None:
                entries[target] = _zip_entry(archive, info, target, selection.doing, store, budget)
    return entries


def _zip_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, doing: str, store: BlobStore,
               budget: Budget) -> FileEntry:
    """One zip member; its Unix mode and file type come from the high bits of ``external_attr``."""
    unix_mode = info.external_attr >> 16
    file_type = stat.S_IFMT(unix_mode)
    if info.flag_bits & 0x1:
        raise InputError(f"{doing}: member {info.filename!r} is encrypted",
                         hint="use an archive without a password")
    if info.is_dir():
        return FileEntry(path, EntryKind.DIR, 0o755)
    if file_type == stat.S_IFLNK:
        with archive.open(info) as data:
            link = data.read(MAX_LINK).decode("utf-8", "surrogateescape")
        return FileEntry(path, EntryKind.SYMLINK, 0o777, link=link_inside(path, link, doing))
    if file_type not in (0, stat.S_IFREG):
        raise ArchiveRefused(f"{doing}: member {info.filename!r} is a device file or fifo, not a file",
                             hint=REFUSED)
    with archive.open(info) as data:
        return _store_file(data, path, unix_mode or 0o644, store, budget)
