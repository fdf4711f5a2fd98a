"""The bundle format without a workspace: slicing a registry/ tar and joining it back, and a
bundle written, read back and refused when altered or cut."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor
from clusterbuild.places.bundle import BundleError, Carried, Contents, read_bundle, write_bundle
from clusterbuild.places.layer_slices import slice_layer


def _registry_tar(path: Path, blobs: list[bytes]) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for data in blobs:
            hex_ = hashlib.sha256(data).hexdigest()
            info = tarfile.TarInfo(f"registry/docker/registry/v2/blobs/sha256/{hex_[:2]}/{hex_}/data")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("registry/docker/registry/v2/repositories/x/_layers/link")
        link.size = 3
        tar.addfile(link, io.BytesIO(b"abc"))


def test_a_sliced_layer_joins_back_byte_for_byte(tmp_path: Path) -> None:
    blobs = [os.urandom(3000), os.urandom(100), os.urandom(70_000)]
    path = tmp_path / "layer.tar"
    _registry_tar(path, blobs)
    data = path.read_bytes()
    sliced, skeleton = slice_layer(path, Digest.of_bytes(data))
    assert set(sliced.inner) == {Digest.of_bytes(blobs[0]), Digest.of_bytes(blobs[2])}  # 100 B stays
    joined = b"".join(skeleton[s.offset:s.offset + s.size] if s.digest is None
                      else data[s.offset:s.offset + s.size] for s in sliced.segments)
    assert joined == data
    assert len(skeleton) == len(data) - 73_000  # the two large blobs are left out


def _bundle(tmp_path: Path, blobs: list[bytes], **options: object) -> list[Path]:
    store = BlobStore(tmp_path / "src")
    carried = [Carried(store.put_bytes(b), len(b), lambda b=b: io.BytesIO(b)) for b in blobs]  # type: ignore[misc]
    root = Descriptor("application/vnd.oci.image.manifest.v1+json", carried[0].digest, carried[0].size)
    contents = Contents((("r.io/x:1", root),), tuple(sorted((c.digest, c.size) for c in carried)))
    return write_bundle(tmp_path / "b.tar", contents, carried, **options)  # type: ignore[arg-type]


def test_a_split_zstd_bundle_reads_back_every_blob(tmp_path: Path) -> None:
    blobs = [b"{}", os.urandom(50_000), os.urandom(20_000)]
    parts = _bundle(tmp_path, blobs, zstd=True, split=8192)
    assert len(parts) > 5 and [p.name for p in parts[:2]] == ["b.tar.000", "b.tar.001"]
    store = BlobStore(tmp_path / "dst")
    contents = read_bundle(parts, store)
    assert {store.read_bytes(d) for d, _ in contents.blobs} == set(blobs)
    with pytest.raises(BundleError, match=r"truncated|missing blob"):
        read_bundle(parts[:-2], BlobStore(tmp_path / "cut"))


def test_an_altered_blob_is_named_and_not_stored(tmp_path: Path) -> None:
    blobs = [b"{}", b"x" * 5000]
    [path] = _bundle(tmp_path, blobs)
    data = bytearray(path.read_bytes())
    at = data.index(b"x" * 5000)
    data[at + 10] = ord("y")
    path.write_bytes(bytes(data))
    store = BlobStore(tmp_path / "dst")
    with pytest.raises(BundleError, match=f"blob {Digest.of_bytes(blobs[1])} is altered"):
        read_bundle([path], store)
    assert not store.has(Digest.of_bytes(blobs[1]))
