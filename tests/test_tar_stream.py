"""The tar writer: the same bytes with the sink on its own thread, and its errors reach the caller."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
from pathlib import Path

import pytest

from clusterbuild.cache.store import Assembly, BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry
from clusterbuild.places.tar_stream import CHUNK, data_ranges, tar_layout, write_tar, write_tar_at


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


def test_a_tar_assembled_out_of_order_is_the_same_blob(tmp_path: Path) -> None:
    """``write_tar_at`` leaves some files' ranges; threads write them at their offsets (in
    pieces, the last first) while the bytes before them are hashed; the blob is the tar
    ``write_tar`` writes, byte for byte."""
    store = BlobStore(tmp_path / "store")
    entries = _entries(store, [0, 1, 511, 512, 3 * CHUNK + 7, 100_000, 2 * CHUNK])
    expected = io.BytesIO()
    write_tar(entries, store.opener, expected, mtime=7)
    layout, total = tar_layout(entries, 7)
    assert total == len(expected.getvalue())
    leave = {e.digest for e in entries if e.size >= 100_000}

    def fill(entry: FileEntry, start: int, at: Assembly) -> None:
        assert entry.digest is not None
        data = store.read_bytes(entry.digest)
        half = len(data) // 2
        second = at.at(start + half)
        second.write(data[half:])
        second.flush()
        first = at.at(start)
        for n in range(0, half, 4096):
            first.write(data[n:min(n + 4096, half)])
        first.flush()
        at.done(start)

    with store.assembled(total) as layer:
        write_tar_at(layout, store.opener, layer, leave)
        layer.expect(start for e, _, start in layout if e.digest in leave)  # hashes ahead of them
        threads = [threading.Thread(target=fill, args=(e, start, layer)) for e, _, start in layout
                   if e.digest in leave]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert layer.digest == Digest(hashlib.sha256(expected.getvalue()).hexdigest())
    assert store.read_bytes(layer.digest) == expected.getvalue() and layer.created
    assert data_ranges(layout) == write_tar(entries, store.opener, io.BytesIO(), mtime=7)


def test_an_assembly_that_fails_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    before = set(store.digests())
    with pytest.raises(OSError), store.assembled(1 << 20) as layer:
        layer.at(10).write(b"x")
        raise OSError("the download broke off")
    assert set(store.digests()) == before and not any(store.tmp.iterdir())

