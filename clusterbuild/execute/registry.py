"""Run scan, pull and registry-tree steps."""

from __future__ import annotations

from typing import Any, Protocol

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference
from clusterbuild.places.distribution import StoredImage, tree_entries
from clusterbuild.places.tar_stream import write_tar
from clusterbuild.plan.steps import PullStep, PushStep, RegistryStep, ScanStep

Results = dict[str, dict[str, Any]]


class Registry(Protocol):
    """Registries as steps use them (``execute.pulling`` implements it over the client)."""

    def pull_stored(self, ref: Reference, platform: Platform | None, store: BlobStore,
                    pinned: Digest | None = None) -> tuple[StoredImage, Digest]: ...
    def push(self, target: Reference, root: Descriptor, store: BlobStore) -> Digest: ...


def run_scan(step: ScanStep) -> dict[str, Any]:
    return {"images": list(step.found), "blobs": []}


def stored_to_json(image: StoredImage) -> dict[str, Any]:
    return {"reference": str(image.reference), "top": image.top.to_json(),
            "manifests": [d.to_json() for d in image.manifests],
            "blobs": [d.to_json() for d in image.blobs]}


def stored_from_json(obj: dict[str, Any]) -> StoredImage:
    return StoredImage(Reference.parse(obj["reference"]), Descriptor.from_json(obj["top"]),
                       tuple(Descriptor.from_json(d) for d in obj["manifests"]),
                       tuple(Descriptor.from_json(d) for d in obj["blobs"]))


def run_pull(step: PullStep, registry: Registry, store: BlobStore) -> dict[str, Any]:
    platform = None if step.all_platforms else step.platforms[0]
    pinned = Digest.parse(step.pinned) if step.pinned else None
    image, root = registry.pull_stored(Reference.parse(step.reference), platform, store, pinned)
    digests = [str(d.digest) for d in (*image.manifests, *image.blobs)]
    return {"image": stored_to_json(image), "root": str(root), "blobs": list(dict.fromkeys(digests))}


def run_registry(step: RegistryStep, store: BlobStore, results: Results) -> dict[str, Any]:
    images = [stored_from_json(results[key]["image"]) for key in step.needs]
    entries, links = tree_entries(images)
    for data in links.values():
        store.put_bytes(data)
    with store.writer() as blob:
        write_tar(entries, store.path, blob, step.mtime)
    layer = Descriptor(MediaType.LAYER_TAR.value, blob.digest, blob.size)
    referenced = {str(e.digest) for e in entries if e.digest is not None}
    return {"layer": layer.to_json(), "diff_id": str(blob.digest), "diff_size": blob.size,
            "blobs": [str(blob.digest), *sorted(referenced - {str(blob.digest)})]}


def run_push(step: PushStep, registry: Registry, store: BlobStore, results: Results) -> dict[str, Any]:
    index_key, *image_keys = step.needs
    pushes = [(ref, Descriptor.from_json(results[key]["manifest"]))
              for ref, key in zip(step.platform_refs, image_keys, strict=True)]
    pushes.append((step.index_ref, Descriptor.from_json(results[index_key]["index"])))
    pushed = {}
    for ref, root in pushes:
        digest = registry.push(Reference.parse(ref), root, store)
        if digest != root.digest:
            raise BuildError(f"pushing {ref}: the registry stored {digest}, not {root.digest}",
                             hint="the registry rewrote the manifest; push to another registry")
        pushed[ref] = str(digest)
    return {"pushed": pushed, "blobs": []}
