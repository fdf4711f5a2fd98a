"""Run a layer step: stream its files as a reproducible tar into the content store."""

from __future__ import annotations

import zlib

from clusterbuild.cache.store import BlobStore, HashingWriter
from clusterbuild.errors import BuildError
from clusterbuild.execute.compression import ParallelGzipWriter, ZstdWriter
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.places.tar_stream import Source, write_tar
from clusterbuild.plan.results import LayerResult
from clusterbuild.plan.steps import LayerStep

GZIP_LEVEL = 6  # chart artifacts (helm's .tgz); layers: ``compression``


class GzipWriter:
    """gzip on one thread with a fixed header (mtime 0, no name), so equal input gives equal
    bytes."""

    def __init__(self, sink: HashingWriter) -> None:
        self._sink = sink
        self._zlib = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: gzip wrapper

    def write(self, data: bytes) -> int:
        self._sink.write(self._zlib.compress(data))
        return len(data)

    def close(self) -> None:
        self._sink.write(self._zlib.flush())


def run_layer(step: LayerStep, store: BlobStore) -> LayerResult:
    def source_of(digest: Digest) -> Source:
        path = step.sources.get(str(digest))
        if path is not None:
            return path
        if store.has(digest):
            return store.opener(digest)
        raise BuildError(f"{step.label}: content {digest} is neither local nor in the cache")

    with store.writer() as blob:
        if step.media_type in (MediaType.LAYER_GZIP, MediaType.LAYER_ZSTD):
            compressed = ParallelGzipWriter(blob) if step.media_type is MediaType.LAYER_GZIP \
                else ZstdWriter(blob)
            tar = HashingWriter(compressed)
            write_tar(step.entries, source_of, tar, step.mtime)
            compressed.close()
            diff_id, diff_size = tar.digest, tar.size
        else:
            write_tar(step.entries, source_of, blob, step.mtime, threaded=True)
            diff_id, diff_size = blob.digest, blob.size
    return LayerResult(Descriptor(step.media_type.value, blob.digest, blob.size), diff_id, diff_size)
