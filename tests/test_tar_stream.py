"""The tar writer: the same bytes with the sink on its own thread, and its errors reach the caller."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
from pathlib import Path

import pytest

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry
from clusterbuild.places.tar_stream import CHUNK, write_tar


def _entries(store: BlobStore, sizes: list[int]) -> tuple[FileEntry, ...]:
    entries = [FileEntry("d", EntryKind.DIR, 0o755, 0, None)]
    for n, size in enumerate(sizes):
        digest = store.put_bytes(os.urandom(size))
        entries.append(FileEntry(f"d/f{n:03d}", EntryKind.FILE, 0o644, size, digest))
    return tuple(entries)


class Failing(io.BytesIO):
    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self.after:
            raise OSError(28, "No space left on device")
        return super().write(data)


def test_threaded_writes_the_same_tar_and_places_each_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    entries = _entries(store, [10, 3 * CHUNK + 7, 0, 600, CHUNK])  # small writes are batched
    plain, threaded = io.BytesIO(), io.BytesIO()
    placed = write_tar(entries, store.opener, plain, 5)
    assert write_tar(entries, store.opener, threaded, 5, threaded=True) == placed
    assert plain.getvalue() == threaded.getvalue()
    data = threaded.getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = [m.name for m in tar if m.isfile()]
    assert len(names) == 5 and len(placed) == 4  # the empty file has no data to place
    for digest, offset, size in placed:  # each file's bytes sit where write_tar says
        assert Digest(hashlib.sha256(data[offset:offset + size]).hexdigest()) == digest


def test_an_error_of_the_sink_thread_reaches_the_caller(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    entries = _entries(store, [4 * CHUNK])
    before = threading.active_count()
    with pytest.raises(OSError, match="No space left"):
        write_tar(entries, store.opener, Failing(CHUNK), 0, threaded=True)
    assert threading.active_count() == before  # the writer thread is gone


def test_an_error_of_the_caller_stops_the_sink_thread(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    entries = _entries(store, [2 * CHUNK])
    path = store.path(entries[1].digest)  # type: ignore[arg-type]
    os.chmod(path, 0o644)
    path.write_bytes(os.urandom(2 * CHUNK))  # not the bytes its name says
    before = threading.active_count()
    with pytest.raises(BuildError):
        write_tar(entries, store.opener, io.BytesIO(), 0, threaded=True)
    assert threading.active_count() == before
