"""gzip on every core, with the same bytes whatever the number of threads.

The stream is cut into blocks of ``BLOCK_SIZE`` uncompressed bytes. Each block is deflated
on its own (zlib releases the GIL, so threads run in parallel), primed with the 32 KiB
before it as a preset dictionary and ended with a sync flush, and the pieces are written in
order between one gzip header and trailer: a single gzip member that any gunzip reads, as
pigz makes. Block boundaries depend only on the input, never on the thread count, so
equal input gives equal bytes.

Level 1 was chosen by measurement on real binaries (bench_build's opt/ context): about
3x the speed of level 6 for ~10 % more bytes; see ``benchmarks/README.md``.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from clusterbuild.cache.store import Sink

GZIP_LAYER_LEVEL = 1
BLOCK_SIZE = 1 << 20  # uncompressed bytes per deflate block
WINDOW = 1 << 15  # the preset dictionary: deflate's whole window
# gzip header: magic, deflate, no flags, mtime 0, XFL (4: fastest, 0 otherwise), OS 3 (unix)
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"
_FINAL_EMPTY_BLOCK = b"\x03\x00"  # a final, empty fixed-Huffman block

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def compression_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _shared_pool() -> ThreadPoolExecutor:
    """One pool for every layer of the process, so concurrent layers share the cores."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=compression_threads(),
                                       thread_name_prefix="deflate")
        return _pool


def deflate_block(data: bytes, previous: bytes, level: int) -> bytes:
    """``data`` as raw deflate, byte-aligned at its end (sync flush), not final."""
    compressor = (zlib.compressobj(level, zlib.DEFLATED, -15, zdict=previous) if previous
                  else zlib.compressobj(level, zlib.DEFLATED, -15))
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


ZSTD_LAYER_LEVEL = 3


class ZstdWriter:
    """A write-only zstd stream on every core. zstd's multi-threaded mode writes the same
    bytes for any number of threads (but other bytes than its single-threaded mode, which
    is therefore never used); no checksum or size in the frame header: the digest checks."""

    def __init__(self, sink: Sink, threads: int | None = None) -> None:
        import zstandard  # only zstd layers need it

        compressor = zstandard.ZstdCompressor(level=ZSTD_LAYER_LEVEL,
                                              threads=threads or compression_threads(),
                                              write_checksum=False, write_content_size=False)
        self._stream = compressor.stream_writer(sink, closefd=False)  # type: ignore[arg-type]

    def write(self, data: bytes) -> int:
        self._stream.write(data)
        return len(data)

    def close(self) -> None:
        self._stream.close()  # type: ignore[no-untyped-call]


class ParallelGzipWriter:
    """A write-only gzip stream: ``write`` what to compress, then ``close`` once."""

    def __init__(self, sink: Sink, level: int = GZIP_LAYER_LEVEL, threads: int | None = None) -> None:
        self._sink = sink
        self._level = level
        self._threads = threads or compression_threads()
        self._pool = _shared_pool() if threads is None else None
        self._own_pool = ThreadPoolExecutor(max_workers=threads) if threads and threads > 1 else None
        self._buffer = bytearray()
        self._previous = b""
        self._crc = 0
        self._size = 0
        self._pending: deque[Future[bytes] | bytes] = deque()
        xfl = b"\x04" if level == 1 else b"\x02" if level == 9 else b"\x00"
        sink.write(_HEADER + xfl + b"\x03")

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) >= BLOCK_SIZE:
            block = bytes(self._buffer[:BLOCK_SIZE])
            del self._buffer[:BLOCK_SIZE]
            self._submit(block)
        return len(data)

    def _submit(self, block: bytes) -> None:
        self._crc = zlib.crc32(block, self._crc)
        self._size += len(block)
        pool = self._pool or self._own_pool
        if pool is None:
            self._pending.append(deflate_block(block, self._previous, self._level))
        else:
            self._pending.append(pool.submit(deflate_block, block, self._previous, self._level))
        self._previous = block[-WINDOW:]
        while len(self._pending) > 2 * self._threads:  # bounded memory: write the oldest
            self._write_oldest()

    def _write_oldest(self) -> None:
        done = self._pending.popleft()
        self._sink.write(done if isinstance(done, bytes) else done.result())

    def close(self) -> None:
        try:
            if self._buffer:
                self._submit(bytes(self._buffer))
                self._buffer.clear()
            while self._pending:
                self._write_oldest()
        finally:
            for left in self._pending:
                if not isinstance(left, bytes):
                    left.cancel()
            if self._own_pool is not None:
                self._own_pool.shutdown(wait=False, cancel_futures=True)
        self._sink.write(_FINAL_EMPTY_BLOCK + struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
