"""An ``oci-archive``: a reproducible tar of an OCI layout holding some refs."""

from __future__ import annotations

import os
from pathlib import Path

from clusterbuild.cache.store import BlobStore, HashingWriter
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry, with_parents
from clusterbuild.oci.model import REF_NAME, Descriptor, Index, to_bytes
from clusterbuild.places.layout import LAYOUT_MARKER
from clusterbuild.places.tar_stream import write_tar


def write_oci_archive(path: Path, refs: dict[str, Descriptor], blobs: list[Digest],
                      store: BlobStore) -> int:
    """Write ``path`` atomically from blobs in ``store``; return its size."""
    index = Index(tuple(refs[name].with_annotations(**{REF_NAME: name}) for name in sorted(refs)))
    meta = {"index.json": to_bytes(index.to_json()), "oci-layout": LAYOUT_MARKER}
    entries: list[FileEntry] = []
    for name, data in meta.items():
        digest = store.put_bytes(data)
        entries.append(FileEntry(name, EntryKind.FILE, 0o644, len(data), digest))
    for digest in dict.fromkeys(blobs):
        size = store.size(digest)
        entries.append(FileEntry(f"blobs/sha256/{digest.hex}", EntryKind.FILE, 0o644, size, digest))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as raw:
            out = HashingWriter(raw)
            write_tar(with_parents(entries), store.opener, out, 0)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return out.size
