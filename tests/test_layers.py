"""Reproducible layer bytes and the file-digest memory, read back with independent readers."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from clusterbuild.cache.file_digests import FileDigests, hash_file
from clusterbuild.cache.results import CacheIndex
from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.execute.layers import run_layer
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry, with_parents
from clusterbuild.oci.model import MediaType
from clusterbuild.plan.steps import LayerStep

LONG = "registry/docker/registry/v2/repositories/library/nginx/_manifests/revisions/sha256/" + "a" * 64


def _layer(tmp: Path, media_type: MediaType, mtime: int = 0) -> tuple[LayerStep, dict[str, bytes]]:
    contents = {f"{LONG}/link": b"sha256:" + b"a" * 64, "opt/tool": b"#!/bin/sh\necho hi\n"}
    entries, sources = [], {}
    for rel, data in contents.items():
        path = tmp / hashlib.sha256(data).hexdigest()
        path.write_bytes(data)
        digest = Digest.of_bytes(data)
        mode = 0o755 if rel == "opt/tool" else 0o644
        entries.append(FileEntry(rel, EntryKind.FILE, mode, len(data), digest))
        sources[str(digest)] = path
    entries.append(FileEntry("opt/link", EntryKind.SYMLINK, 0o777, link="tool"))
    step = LayerStep(app="a", version="1", platforms=(), slot="s", entries=with_parents(entries),
                     media_type=media_type, mtime=mtime, sources=sources)
    return step, contents


@pytest.mark.parametrize("media_type", [MediaType.LAYER_GZIP, MediaType.LAYER_TAR])
def test_layer_bytes_are_reproducible_and_readable(tmp_path: Path, media_type: MediaType) -> None:
    step, contents = _layer(tmp_path, media_type, mtime=1_234_567)
    store_a, store_b = BlobStore(tmp_path / "a"), BlobStore(tmp_path / "b")
    first, second = run_layer(step, store_a), run_layer(step, store_b)
    assert first == second
    blob = store_a.read_bytes(first.layer.digest)
    if media_type is MediaType.LAYER_GZIP:
        assert blob[4:8] == b"\0\0\0\0"  # gzip header mtime
        raw = gzip.decompress(blob)
    else:
        raw = blob
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == str(first.diff_id)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = tar.getmembers()
        names = [m.name.rstrip("/") for m in members]
        assert names == [e.path for e in step.entries]
        assert all((m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 1_234_567)
                   for m in members)
        for rel, data in contents.items():
            assert tar.extractfile(rel).read() == data  # type: ignore[union-attr]
        assert tar.getmember("opt/tool").mode == 0o755
        assert tar.getmember("opt/link").linkname == "tool"


def test_a_file_changed_after_hashing_fails_the_layer(tmp_path: Path) -> None:
    step, _ = _layer(tmp_path, MediaType.LAYER_GZIP)
    source = next(iter(step.sources.values()))
    source.write_bytes(source.read_bytes().upper())  # same size, other content
    with pytest.raises(BuildError, match="changed while building"):
        run_layer(step, BlobStore(tmp_path / "store"))
    assert not any((tmp_path / "store/blobs/sha256").iterdir())


def test_file_digests_are_remembered_and_edits_are_seen(tmp_path: Path) -> None:
    index = CacheIndex(tmp_path / "cache")
    path = tmp_path / "f.yaml"
    path.write_bytes(b"a: 1\n")
    old = time.time() - 60
    os.utime(path, (old, old))
    digests = FileDigests(index, tmp_path)
    assert digests.digest("f.yaml", path, path.stat()) == hash_file(path)
    digests.save()

    remembered = FileDigests(index, tmp_path)
    stat = path.stat()
    path.write_bytes(b"a: 2\n")  # same size; restore the mtime as `cp -p` or a checkout might
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert remembered.digest("f.yaml", path, path.stat()) == Digest.of_bytes(b"a: 2\n")


def test_recently_modified_files_are_not_remembered(tmp_path: Path) -> None:
    index = CacheIndex(tmp_path / "cache")
    path = tmp_path / "new.yaml"
    path.write_bytes(b"x\n")
    digests = FileDigests(index, tmp_path)
    digests.digest("new.yaml", path, path.stat())
    digests.save()
    assert index.get("tree", str(tmp_path.resolve())) in (None, {})
