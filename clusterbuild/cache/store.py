"""A content-addressed blob store laid out as an OCI ``blobs/sha256`` tree.

Writes are atomic and idempotent: data goes to a temp file in the store's own
``tmp/`` (same filesystem), is hashed on the way, and is renamed into place
only when complete. A blob already present is never rewritten. Temp files of
processes that died are removed by ``clean_temp``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from clusterbuild.errors import BuildError
from clusterbuild.oci.digest import Digest

BLOB_MODE = 0o444  # world-readable, and read-only: layouts hard-link these very files


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


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.tmp = root / "tmp"
        self._prefix = f"{self.blobs}{os.sep}"  # has() joins strings: pathlib cost more than the stat

    def path(self, digest: Digest) -> Path:
        return self.blobs / digest.hex

    def has(self, digest: Digest, size: int | None = None) -> bool:
        try:
            st = os.stat(self._prefix + digest.hex)
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

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
            if not self.has(writer.digest, writer.size):
                os.chmod(tmp_name, BLOB_MODE)
                os.replace(tmp_name, self.path(writer.digest))
                writer.created = True
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def put_bytes(self, data: bytes) -> Digest:
        digest = Digest.of_bytes(data)
        if not self.has(digest, len(data)):
            with self.writer() as w:
                w.write(data)
        return digest

    def read_bytes(self, digest: Digest) -> bytes:
        return self.path(digest).read_bytes()

    def digests(self) -> Iterator[Digest]:
        if self.blobs.is_dir():
            for entry in os.scandir(self.blobs):
                if len(entry.name) == 64:
                    yield Digest(entry.name)

    def remove(self, digest: Digest) -> int:
        path = self.path(digest)
        size = path.stat().st_size
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
