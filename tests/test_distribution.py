"""The registry/ tree, written as a layer and served by the real docker-registry."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

from clusterbuild.cache.store import BlobStore
from clusterbuild.execute.layers import run_layer
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.oci.reference import Reference
from clusterbuild.oci.stored import StoredImage
from clusterbuild.places.distribution import tree_entries
from clusterbuild.plan.steps import LayerStep

from conftest import apply_json, images, running_registry

TOOLS = "docker.io/labring/hello-tools:v1.0.0"


def skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert proc.returncode == 0, f"skopeo {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def _store_from_layout(layout: Path, store: BlobStore) -> None:
    for blob in (layout / "blobs/sha256").iterdir():
        with store.writer(expect=Digest(blob.name)) as w:
            w.write(blob.read_bytes())


def _descriptor(store: BlobStore, digest: str, media_type: str) -> Descriptor:
    d = Digest.parse(digest)
    return Descriptor(media_type, d, store.path(d).stat().st_size)


def _image(store: BlobStore, ref: Reference, index_digest: str, arch: str | None) -> StoredImage:
    index = json.loads(store.read_bytes(Digest.parse(index_digest)))
    children = [m for m in index["manifests"]
                if arch is None or m["platform"]["architecture"] == arch]
    manifests = [Descriptor.from_json(m) for m in children]
    blobs = []
    for m in manifests:
        doc = json.loads(store.read_bytes(m.digest))
        blobs += [Descriptor.from_json(doc["config"])] + [Descriptor.from_json(x) for x in doc["layers"]]
    if arch is None:
        top = _descriptor(store, index_digest, MediaType.INDEX.value)
        manifests.insert(0, top)
    else:
        top = manifests[0]
    return StoredImage(ref, top, tuple(manifests), tuple(blobs))


def _write_tree(tmp: Path, store: BlobStore, stored: list[StoredImage]) -> Path:
    entries, links = tree_entries(stored)
    for data in links.values():
        store.put_bytes(data)
    step = LayerStep(app="t", version="1", platforms=(), slot="t", entries=entries,
                     media_type=MediaType.LAYER_TAR)
    result = run_layer(step, store)
    root = tmp / "image-root"
    with tarfile.open(store.path(result.layer.digest)) as tar:
        tar.extractall(root, filter="tar")
    return root


def test_tree_serves_one_platform_under_the_tag_and_the_whole_index_with_all(
        workspace: Path, tmp_path: Path) -> None:
    result = apply_json(workspace, "hello-tools")
    store = BlobStore(tmp_path / "store")
    _store_from_layout(workspace / "out", store)
    index_digest = images(result)[TOOLS]
    by_tag = Reference.parse("docker.io/labring/hello-tools:v1.0.0")
    pinned = Reference.parse(f"127.0.0.1/other/tools@{index_digest}")
    stored = [_image(store, by_tag, index_digest, "arm64"), _image(store, pinned, index_digest, None)]
    root = _write_tree(tmp_path, store, stored)
    link = next(root.glob("registry/docker/registry/v2/repositories/labring/hello-tools/"
                          "_manifests/tags/v1.0.0/current/link"))
    assert link.read_bytes() == str(stored[0].top.digest).encode()  # no trailing newline

    with running_registry(root / "registry", tmp_path) as address:
        raw = skopeo("inspect", "--raw", "--tls-verify=false",
                     f"docker://{address}/labring/hello-tools:v1.0.0").encode()
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == str(stored[0].top.digest)
        assert json.loads(raw)["mediaType"] == MediaType.MANIFEST.value
        skopeo("copy", "--src-tls-verify=false", f"docker://{address}/labring/hello-tools:v1.0.0",
               f"dir:{tmp_path / 'one'}")
        assert len(list((tmp_path / "one").iterdir())) >= 3  # manifest, config, layer(s)
        # the whole index, by digest (stored under the tag sha256-<hex>), every platform
        skopeo("copy", "--all", "--src-tls-verify=false",
               f"docker://{address}/other/tools@{index_digest}", f"oci:{tmp_path / 'all'}:x")
        tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{address}/other/tools"))
        assert tags["Tags"] == [f"sha256-{Digest.parse(index_digest).hex}"]
    shutil.rmtree(root)
