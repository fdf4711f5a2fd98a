"""Run pull, registry-tree and push steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference
from clusterbuild.oci.stored import StoredImage
from clusterbuild.places.distribution import tree_entries
from clusterbuild.places.tar_stream import write_tar
from clusterbuild.plan.results import ImageResult, IndexResult, LayerResult, PullResult, PushResult
from clusterbuild.plan.steps import PullStep, PushStep, RegistryStep


class Registry(Protocol):
    """Registries as steps use them (``execute.network`` implements it over the client)."""

    def pull_stored(self, ref: Reference, platform: Platform | None, store: BlobStore,
                    pinned: Digest | None = None) -> tuple[StoredImage, Digest]: ...
    def push(self, target: Reference, root: Descriptor, store: BlobStore) -> Digest: ...


def run_pull(step: PullStep, registry: Registry, store: BlobStore) -> PullResult:
    platform = None if step.all_platforms else step.platforms[0]
    pinned = Digest.parse(step.pinned) if step.pinned else None
    image, root = registry.pull_stored(Reference.parse(step.reference), platform, store, pinned)
    return PullResult(image, root)


def run_registry(step: RegistryStep, store: BlobStore, pulls: Sequence[PullResult]) -> LayerResult:
    """The registry/ tree as one uncompressed tar; the pulled blobs in it are then held by it
    (``BlobStore.hold``): the cache keeps their bytes once, inside the layer."""
    entries, links = tree_entries([pull.image for pull in pulls])
    for data in links.values():
        store.put_bytes(data)
    with store.writer() as blob:
        placed = write_tar(entries, store.opener, blob, step.mtime, threaded=True)
    pulled = {d.digest for pull in pulls for d in (*pull.image.manifests, *pull.image.blobs)}
    store.hold(blob.digest, [p for p in placed if p[0] in pulled])
    layer = Descriptor(MediaType.LAYER_TAR.value, blob.digest, blob.size)
    referenced = sorted({e.digest for e in entries if e.digest is not None} - {blob.digest}, key=str)
    return LayerResult(layer, blob.digest, blob.size, tuple(referenced))


def run_push(step: PushStep, registry: Registry, store: BlobStore, index: IndexResult | None,
             images: Sequence[ImageResult]) -> PushResult:
    """Each platform's image, then the index (none for a shard's push)."""
    pushes = [(ref, image.manifest) for ref, image in zip(step.platform_refs, images, strict=True)]
    if index is not None:
        pushes.append((step.index_ref, index.index))
    pushed = []
    for ref, root in pushes:
        digest = registry.push(Reference.parse(ref), root, store)
        if digest != root.digest:
            raise BuildError(f"pushing {ref}: the registry stored {digest}, not {root.digest}",
                             hint="the registry rewrote the manifest; push to another registry")
        pushed.append((ref, digest))
    return PushResult(tuple(pushed))
