"""Parallel gzip layers: one valid gzip member, the same bytes whatever the thread count."""

from __future__ import annotations

import gzip
import io
import random
import subprocess
from pathlib import Path

import pytest

from clusterbuild.execute.compression import BLOCK_SIZE, GZIP_LAYER_LEVEL, ParallelGzipWriter
from clusterbuild.plan.steps import GZIP_LAYER_FORMAT


def _data() -> bytes:
    rng = random.Random(16)
    noise = rng.randbytes(BLOCK_SIZE + 777)  # incompressible, across a block boundary
    text = b"".join(f"line {n}: kind: ConfigMap\n".encode() for n in range(200_000))
    return noise + text + noise[:5000]


def _gzip(data: bytes, threads: int | None, chunk: int) -> bytes:
    out = io.BytesIO()
    writer = ParallelGzipWriter(out, threads=threads)
    for start in range(0, len(data), chunk):
        writer.write(data[start:start + chunk])
    writer.close()
    return out.getvalue()


def test_same_bytes_for_every_thread_count_and_write_size() -> None:
    data = _data()
    assert len(data) > 3 * BLOCK_SIZE
    outputs = {_gzip(data, threads, chunk)
               for threads, chunk in [(1, 512), (2, 65536), (8, 1 << 20), (None, 12345)]}
    assert len(outputs) == 1


def test_gunzip_reads_it(tmp_path: Path) -> None:
    data = _data()
    blob = _gzip(data, None, 100_000)
    assert gzip.decompress(blob) == data
    path = tmp_path / "layer.gz"
    path.write_bytes(blob)
    subprocess.run(["gzip", "-t", str(path)], check=True)  # GNU gzip checks CRC and length
    assert subprocess.run(["gzip", "-dc", str(path)], check=True, capture_output=True).stdout == data
    assert len(blob) < 0.8 * len(data)  # the text part does compress


@pytest.mark.parametrize("data", [b"", b"x", b"y" * BLOCK_SIZE])
def test_edge_sizes(data: bytes) -> None:
    blob = _gzip(data, 2, 4096)
    assert gzip.decompress(blob) == data
    assert blob[:4] == b"\x1f\x8b\x08\x00" and blob[4:8] == b"\0\0\0\0"  # no name, mtime 0


def test_the_layer_key_names_the_format() -> None:
    assert f"gzip level {GZIP_LAYER_LEVEL}, deflate blocks of {BLOCK_SIZE >> 20} MiB" == GZIP_LAYER_FORMAT


def test_zstd_is_the_same_bytes_for_every_thread_count() -> None:
    import zstandard

    from clusterbuild.execute.compression import ZstdWriter

    data = _data()
    outputs = set()
    for threads in (1, 2, 8):
        out = io.BytesIO()
        writer = ZstdWriter(out, threads=threads)
        for start in range(0, len(data), 65536):
            writer.write(data[start:start + 65536])
        writer.close()
        outputs.add(out.getvalue())
    assert len(outputs) == 1
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(outputs.pop())).read() == data
