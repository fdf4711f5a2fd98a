"""A content-addressed blob store laid out as an OCI ``blobs/sha256`` tree.

Writes are atomic and idempotent: data goes to a temp file in the store's own
``tmp/`` (same filesystem), is hashed on the way, and is renamed into place
only when complete. A blob already present is never rewritten. Temp files of
processes that died are removed by ``clean_temp``.

Held blobs: a blob may live only inside another blob of the store, as a range of it. A
``registry/`` layer is an uncompressed tar of the images it ships, so each pulled blob's
bytes are one contiguous range of the layer. A pull leaves its large layers in the registry
and the registry step fetches each straight into its range of the layer (``assembled``: a
blob written out of order, hashed once complete), so they are written once; a pulled blob
that had a file of its own loses it once the layer is stored. ``held/<hex>`` (JSON: its
size, and the containers and offsets that hold it) says where its bytes are: the cache
holds every shipped image once. The record is
written before the file is removed, so a crash leaves one or the other. Readers go through
``open``/``locate``/``size``/``has``, which find either; ``file`` gives a blob a file of its
own again where one is needed (a hard link into a layout). ``cache gc`` knows: a container
it removes gives its still-needed held blobs a file first (``release``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO, Protocol

from clusterbuild.errors import BuildError
from clusterbuild.oci.digest import Digest

BLOB_MODE = 0o444  # world-readable, and read-only: layouts hard-link these very files
CHUNK = 1 << 20
HELD_MIN = 64 * 1024  # smaller blobs keep their own file: a record and a header cost as much


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class HashingWriter:
    """A write-only stream that hashes and counts what passes through it."""

    def __init__(self, sink: Sink | None) -> None:
        self._sink = sink
        self._hash = hashlib.sha256()
        self.size = 0
        self.created = False  # set by BlobStore.writer: this write made a new blob

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        if self._sink is not None:
            self._sink.write(data)
        return len(data)

    @property
    def digest(self) -> Digest:
        return Digest(self._hash.hexdigest())


class At:
    """A sink writing at an offset of a file and on from there (``os.pwrite``: threads may
    write other regions of the same file at once); contiguous small writes are batched."""

    def __init__(self, fd: int, offset: int) -> None:
        self._fd, self._pos = fd, offset
        self._pending = bytearray()

    def write(self, data: bytes) -> int:
        if len(data) >= CHUNK and not self._pending:
            self._put(data)
        else:
            self._pending += data
            if len(self._pending) >= CHUNK:
                self.flush()
        return len(data)

    def seek(self, offset: int) -> None:
        self.flush()
        self._pos = offset

    def flush(self) -> None:
        if self._pending:
            self._put(self._pending)  # no copy: its views are gone when _put returns
            self._pending.clear()

    def _put(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, self._pos)
            self._pos += written
            view = view[written:]


class Assembly:
    """A blob being written out of order (``BlobStore.assembled``): ``at(offset)`` gives a
    sink for the bytes from ``offset`` on; ``digest`` is known once it is complete. Ranges
    announced with ``expect`` are written later by others, each reported with ``done``; the
    bytes before the first range still to come are hashed meanwhile, on a thread of its own,
    so the hash is nearly done when the last range is."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.size = fd, size
        self.created = False
        self._digest: Digest | None = None
        self._hasher = hashlib.sha256()
        self._hashed = 0
        self._coming: set[int] = set()  # starts of the ranges not written yet
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def at(self, offset: int) -> At:
        return At(self.fd, offset)

    def expect(self, starts: Iterable[int]) -> None:
        """Every byte but the ranges starting at ``starts`` is written: hash ahead of them."""
        with self._changed:
            self._coming.update(starts)
        if self._thread is None:
            self._thread = threading.Thread(target=self._hash_ahead, name="assembly-hash", daemon=True)
            self._thread.start()

    def done(self, start: int) -> None:
        with self._changed:
            self._coming.discard(start)
            self._changed.notify()

    def _hash_ahead(self) -> None:
        while self._hashed < self.size:
            with self._changed:
                while not self._stopping and min(self._coming, default=self.size) <= self._hashed:
                    self._changed.wait()
                if self._stopping:
                    return
                limit = min(self._coming, default=self.size)
            self._hash_to(limit)

    def _hash_to(self, limit: int) -> None:
        while self._hashed < limit:
            chunk = os.pread(self.fd, min(CHUNK, limit - self._hashed), self._hashed)
            if not chunk:
                raise BuildError(f"an assembled blob ends at {self._hashed} of {self.size} bytes")
            self._hasher.update(chunk)
            self._hashed += len(chunk)

    def stop(self) -> None:
        """Stop hashing ahead (before the file is closed)."""
        if self._thread is not None:
            with self._changed:
                self._stopping = True
                self._changed.notify()
            self._thread.join()
            self._thread = None

    def finish(self) -> None:
        if self._thread is not None:
            with self._changed:
                coming = bool(self._coming)
            if coming:
                raise RuntimeError("an assembly finished before every expected range was done")
            self._thread.join()  # nothing is coming: it hashes to the end
            self._thread = None
        self._hash_to(self.size)
        self._digest = Digest(self._hasher.hexdigest())

    @property
    def digest(self) -> Digest:
        if self._digest is None:
            raise RuntimeError("the assembly is not complete")
        return self._digest


class RangeReader(io.RawIOBase):
    """``size`` bytes of ``path`` from ``offset`` on, read as a stream of their own."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        self.name = f"{path}@{offset}"
        self._fd = os.open(path, os.O_RDONLY)
        self._start, self._size, self._pos = offset, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._start + self._pos)
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.tmp = root / "tmp"
        self.held_dir = root / "held"
        self._prefix = f"{self.blobs}{os.sep}"  # has() joins strings: pathlib cost more than the stat

    def path(self, digest: Digest) -> Path:
        """Where the blob's own file is (or would be); ``file`` when it may be held."""
        return self.blobs / digest.hex

    def has(self, digest: Digest, size: int | None = None) -> bool:
        try:
            st = os.stat(self._prefix + digest.hex)
        except FileNotFoundError:
            held = self._holder(digest)
            return held is not None and (size is None or held[2] == size)
        return size is None or st.st_size == size

    def _has_file(self, digest: Digest, size: int) -> bool:
        try:
            return os.stat(self._prefix + digest.hex).st_size == size
        except FileNotFoundError:
            return False

    # ------------------------------------------------------------------ held blobs

    def _held_record(self, digest: Digest) -> tuple[int, list[tuple[str, int]]] | None:
        try:
            raw = json.loads((self.held_dir / digest.hex).read_bytes())
            return int(raw["size"]), [(str(c), int(o)) for c, o in raw["in"]]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def _holder(self, digest: Digest) -> tuple[Path, int, int] | None:
        """(container file, offset, size) of a held blob whose container is here."""
        record = self._held_record(digest)
        if record is None:
            return None
        size, places = record
        for container, offset in places:
            path = self.blobs / container
            try:
                if os.stat(path).st_size >= offset + size:
                    return path, offset, size
            except FileNotFoundError:
                continue
        return None

    def locate(self, digest: Digest) -> tuple[Path, int, int]:
        """(file, offset, size) of the blob's bytes: its own file, or its range of a container."""
        try:
            return self.path(digest), 0, os.stat(self._prefix + digest.hex).st_size
        except FileNotFoundError:
            held = self._holder(digest)
            if held is None:
                raise FileNotFoundError(f"blob {digest} is not in the content store {self.root}") \
                    from None
            return held

    def size(self, digest: Digest) -> int:
        return self.locate(digest)[2]

    def open(self, digest: Digest) -> BinaryIO:
        """The blob's bytes as a stream (its file, or its range of a container)."""
        try:
            return open(self._prefix + digest.hex, "rb")
        except FileNotFoundError:
            path, offset, size = self.locate(digest)
            if offset == 0 and path == self.path(digest):
                return open(path, "rb")
            return io.BufferedReader(RangeReader(path, offset, size), 1 << 20)

    def opener(self, digest: Digest) -> Callable[[], BinaryIO]:
        """What opens the blob's bytes: a tar writer's source."""
        return lambda: self.open(digest)

    def file(self, digest: Digest) -> Path:
        """A file of the blob's own (for a hard link or an unpacker), made again if it is held."""
        path = self.path(digest)
        if os.path.exists(path):
            return path
        with self.open(digest) as src, self.writer(expect=digest) as out:
            while data := src.read(1 << 20):
                out.write(data)
        return path

    def hold(self, container: Digest, placed: Sequence[tuple[Digest, int, int]]) -> None:
        """Each (blob, offset, size) of ``placed`` is held by ``container`` at ``offset``: its
        own file goes. Blobs under ``HELD_MIN`` keep their file."""
        self.held_dir.mkdir(parents=True, exist_ok=True)
        for digest, offset, size in placed:
            if size < HELD_MIN or digest == container:
                continue
            record = self._held_record(digest)
            places = [p for p in (record[1] if record else []) if p[0] != container.hex]
            self._write_held(digest, size, [(container.hex, offset), *places])
            Path(self.path(digest)).unlink(missing_ok=True)

    def _write_held(self, digest: Digest, size: int, places: list[tuple[str, int]]) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{os.getpid()}.", dir=self.tmp)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"size": size, "in": [list(p) for p in places]}, f)
            os.replace(tmp_name, self.held_dir / digest.hex)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def held(self) -> Iterator[Digest]:
        """Every blob with a held record (its containers may be gone)."""
        if self.held_dir.is_dir():
            for entry in os.scandir(self.held_dir):
                if len(entry.name) == 64:
                    yield Digest(entry.name)

    def release(self, digest: Digest, going: set[Digest], keep: bool) -> None:
        """Before the containers ``going`` are removed: a held blob that is kept (``keep``) and
        has no other container gets its own file; the record keeps only the containers that
        stay, and goes when none is left or the blob is not kept."""
        record = self._held_record(digest)
        if record is None:
            (self.held_dir / digest.hex).unlink(missing_ok=True)
            return
        size, places = record
        staying = [p for p in places if Digest(p[0]) not in going and (self.blobs / p[0]).exists()]
        if keep and not staying and not os.path.exists(self.path(digest)):
            with suppress(FileNotFoundError, BuildError):  # none holds it: its step runs again
                self.file(digest)
        if keep and staying:
            if staying != places:
                self._write_held(digest, size, staying)
        else:
            (self.held_dir / digest.hex).unlink(missing_ok=True)

    @contextmanager
    def writer(self, expect: Digest | None = None) -> Iterator[HashingWriter]:
        """Yield a writer; on clean exit the data becomes the blob of its digest."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{os.getpid()}.", dir=self.tmp)
        try:
            with os.fdopen(fd, "wb", buffering=1 << 20) as raw:
                writer = HashingWriter(raw)
                yield writer
            if expect is not None and writer.digest != expect:
                raise BuildError(f"content digest {writer.digest} does not match expected {expect}")
            if not self._has_file(writer.digest, writer.size):  # a held blob gets its file
                os.chmod(tmp_name, BLOB_MODE)
                os.replace(tmp_name, self.path(writer.digest))
                writer.created = True
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    @contextmanager
    def assembled(self, size: int) -> Iterator[Assembly]:
        """Yield an ``Assembly`` of ``size`` bytes (zeros until written) whose regions are
        written at their offsets, by several threads at once; on clean exit it is hashed in
        one read and becomes the blob of its digest (``Assembly.digest``)."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{os.getpid()}.", dir=self.tmp)
        assembly: Assembly | None = None
        try:
            os.ftruncate(fd, size)
            assembly = Assembly(fd, size)
            yield assembly
            assembly.finish()
            if not self._has_file(assembly.digest, size):
                os.fchmod(fd, BLOB_MODE)
                os.replace(tmp_name, self.path(assembly.digest))
                assembly.created = True
        finally:
            if assembly is not None:
                assembly.stop()
            os.close(fd)
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def put_bytes(self, data: bytes) -> Digest:
        digest = Digest.of_bytes(data)
        if not self.has(digest, len(data)):
            with self.writer() as w:
                w.write(data)
        return digest

    def read_bytes(self, digest: Digest) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            with self.open(digest) as f:
                return f.read()

    def digests(self) -> Iterator[Digest]:
        if self.blobs.is_dir():
            for entry in os.scandir(self.blobs):
                if len(entry.name) == 64:
                    yield Digest(entry.name)

    def remove(self, digest: Digest) -> int:
        """Remove the blob's file, or (a held blob) its record."""
        path = self.path(digest)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            (self.held_dir / digest.hex).unlink(missing_ok=True)
            return 0
        path.unlink()
        return size

    def clean_temp(self) -> None:
        """Remove temp files left by processes that no longer run."""
        if not self.tmp.is_dir():
            return
        for entry in os.scandir(self.tmp):
            pid = entry.name.split(".", 1)[0]
            if pid.isdigit() and not process_alive(int(pid)):
                Path(entry.path).unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
