"""A ``docker-archive``: what ``docker save`` writes and ``docker load`` / ``sealos load`` read.

One platform image per archive: ``manifest.json``, the config as ``<hex>.json``, and each
layer *uncompressed* as ``<diff id hex>/layer.tar`` (gzip and zstd layers are decompressed
while streaming). Written reproducibly and atomically.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from clusterbuild.cache.store import BlobStore, HashingWriter
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry, with_parents
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.places.tar_stream import Source, write_tar

_GZIP = {MediaType.LAYER_GZIP.value, MediaType.DOCKER_LAYER_GZIP.value}


@dataclass(frozen=True)
class DockerLayer:
    blob: Descriptor  # the layer as stored (gzip or plain tar)
    diff_id: Digest
    diff_size: int


def write_docker_archive(path: Path, tags: Sequence[str], config: Digest, layers: Sequence[DockerLayer],
                         store: BlobStore) -> int:
    """Write one platform image (its config, and each layer with its diff id) under ``tags``."""
    manifest = [{"Config": f"{config.hex}.json", "RepoTags": list(tags),
                 "Layers": [f"{layer.diff_id.hex}/layer.tar" for layer in layers]}]
    manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
    entries = [FileEntry("manifest.json", EntryKind.FILE, 0o644, len(manifest_bytes),
                         store.put_bytes(manifest_bytes)),
               FileEntry(f"{config.hex}.json", EntryKind.FILE, 0o644,
                         store.size(config), config)]
    sources: dict[Digest, Source] = {}
    for layer in layers:
        blob = store.file(layer.blob.digest)
        entries.append(FileEntry(f"{layer.diff_id.hex}/layer.tar", EntryKind.FILE, 0o644,
                                 layer.diff_size, layer.diff_id))
        sources[layer.diff_id] = _gunzip(blob) if layer.blob.media_type in _GZIP \
            else _unzstd(blob) if layer.blob.media_type == MediaType.LAYER_ZSTD.value else blob
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as raw:
            out = HashingWriter(raw)
            write_tar(with_parents(entries), lambda d: sources.get(d) or store.opener(d), out, 0)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return out.size


def _gunzip(blob: Path) -> Source:
    def open_stream() -> BinaryIO:
        return gzip.open(blob, "rb")  # type: ignore[return-value]
    return open_stream


def _unzstd(blob: Path) -> Source:
    def open_stream() -> BinaryIO:
        import zstandard  # only zstd layers need it

        return zstandard.ZstdDecompressor().stream_reader(open(blob, "rb"), closefd=True)
    return open_stream
