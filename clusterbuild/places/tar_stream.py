"""Write a ``FileTree`` as a reproducible tar stream.

Entries are sorted, owned by 0:0 with empty user/group names, stamped with one
mtime, and carry no xattrs or access times. File data is streamed in large
chunks; a file that changed since it was hashed is an error, not a silent
difference.
"""

from __future__ import annotations

import hashlib
import queue
import tarfile
import threading
from collections.abc import Callable, Collection
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from clusterbuild.cache.store import Assembly, Sink
from clusterbuild.errors import BuildError, InputError
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry

CHUNK = 1 << 20
BLOCK = tarfile.BLOCKSIZE

Source = Path | Callable[[], BinaryIO]  # a file, or something that opens a stream
SourceOf = Callable[[Digest], Source]
Placed = tuple[FileEntry, bytes, int]  # an entry, its header, where its data starts


def _header(entry: FileEntry, mtime: int) -> bytes:
    info = tarfile.TarInfo(entry.path + ("/" if entry.kind is EntryKind.DIR else ""))
    info.mode = entry.mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry.kind is EntryKind.FILE:
        info.type, info.size = tarfile.REGTYPE, entry.size
    elif entry.kind is EntryKind.DIR:
        info.type = tarfile.DIRTYPE
    else:
        info.type, info.linkname = tarfile.SYMTYPE, entry.link
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _open(source: Source) -> tuple[BinaryIO, str]:
    if isinstance(source, Path):
        return open(source, "rb"), str(source)
    stream = source()
    return stream, getattr(stream, "name", "stream")


def _copy_file(entry: FileEntry, source: Source, out: Sink) -> None:
    src, name = _open(source)
    with src:
        hasher = hashlib.sha256()
        remaining = entry.size
        while remaining:
            chunk = src.read(min(CHUNK, remaining))
            if not chunk:
                break
            hasher.update(chunk)
            out.write(chunk)
            remaining -= len(chunk)
    if remaining or Digest(hasher.hexdigest()) != entry.digest:
        if entry.path.endswith(f"/{entry.digest.hex if entry.digest else ''}/data"):
            raise InputError(f"{name}: does not hold the blob its path names ({entry.digest})",
                             hint="restore the blob, or remove it and the links to it")
        raise BuildError(f"{name}: content changed while building (expected {entry.digest})",
                         hint="run apply again")
    padding = -entry.size % BLOCK
    if padding:
        out.write(b"\0" * padding)


class ThreadedSink:
    """``sink.write`` on a thread of its own, fed through a bounded queue: the caller reads and
    hashes the sources while the sink hashes and writes the stream (hashlib lets go of the
    GIL, so an uncompressed layer uses two cores). Small writes are batched; ``close`` waits
    for the last byte and raises what the sink raised."""

    def __init__(self, sink: Sink, depth: int = 8) -> None:
        self._sink = sink
        self._queue: queue.Queue[bytes | None] = queue.Queue(depth)
        self._pending = bytearray()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="tar-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._sink.write(data)
                except BaseException as e:  # handed to the writer's thread by write/close
                    self._error = e

    def write(self, data: bytes) -> int:
        if self._error is not None:
            raise self._error
        if len(data) >= CHUNK and not self._pending:
            self._queue.put(data)
            return len(data)
        self._pending += data
        if len(self._pending) >= CHUNK:
            self._queue.put(bytes(self._pending))
            self._pending.clear()
        return len(data)

    def close(self) -> None:
        """Write what is pending and wait for the sink (also after an error of the caller)."""
        if self._pending and self._error is None:
            self._queue.put(bytes(self._pending))
            self._pending.clear()
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def tar_layout(entries: tuple[FileEntry, ...], mtime: int) -> tuple[list[Placed], int]:
    """Where everything of the tar goes: (entry, its header, where its data starts) in stream
    order, and the size of the whole stream."""
    layout: list[Placed] = []
    position = 0
    for entry in entries:
        header = _header(entry, mtime)
        position += len(header)
        layout.append((entry, header, position))
        if entry.kind is EntryKind.FILE and entry.size:
            position += entry.size + (-entry.size % BLOCK)
    return layout, position + 2 * BLOCK


def data_ranges(layout: list[Placed]) -> list[tuple[Digest, int, int]]:
    """(digest, offset, size) of every file's data in the stream."""
    return [(entry.digest, start, entry.size) for entry, _, start in layout
            if entry.kind is EntryKind.FILE and entry.size and entry.digest is not None]


def write_tar(entries: tuple[FileEntry, ...], source_of: SourceOf, out: Sink,
              mtime: int, threaded: bool = False) -> list[tuple[Digest, int, int]]:
    """Write the tar; returns (digest, offset, size) of every file's data in the stream.
    ``threaded``: ``out`` runs on a thread of its own (``ThreadedSink``)."""
    if threaded:
        sink = ThreadedSink(out)
        try:
            written = write_tar(entries, source_of, sink, mtime)
        except BaseException:
            with suppress(BaseException):
                sink.close()
            raise
        sink.close()
        return written
    layout, _ = tar_layout(entries, mtime)
    for entry, header, _ in layout:
        out.write(header)
        if entry.kind is EntryKind.FILE and entry.size:
            assert entry.digest is not None
            _copy_file(entry, source_of(entry.digest), out)
    out.write(b"\0" * (2 * BLOCK))
    return data_ranges(layout)


def write_tar_at(layout: list[Placed], source_of: SourceOf, out: Assembly,
                 leave: Collection[Digest]) -> None:
    """Write the tar of ``layout`` into ``out`` (its size), but the data of the files in
    ``leave``: their ranges stay zeros, for others to write (``Assembly.at``)."""
    sink = out.at(0)
    for entry, header, start in layout:
        sink.seek(start - len(header))
        sink.write(header)
        if entry.kind is EntryKind.FILE and entry.size and entry.digest not in leave:
            assert entry.digest is not None
            _copy_file(entry, source_of(entry.digest), sink)
    sink.flush()
