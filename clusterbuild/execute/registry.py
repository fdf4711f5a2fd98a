"""Run pull, registry-tree and push steps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Protocol

from clusterbuild.cache.store import Assembly, BlobStore, HashingWriter
from clusterbuild.errors import BuildError
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import EntryKind, FileEntry
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference
from clusterbuild.oci.stored import StoredImage
from clusterbuild.places.distribution import tree_entries
from clusterbuild.places.tar_stream import data_ranges, tar_layout, write_tar, write_tar_at
from clusterbuild.plan.results import ImageResult, IndexResult, LayerResult, PullResult, PushResult
from clusterbuild.plan.steps import PullStep, PushStep, RegistryStep

if TYPE_CHECKING:
    from clusterbuild.places.registry.blobs import Into


class Registry(Protocol):
    """Registries as steps use them (``execute.network`` implements it over the client)."""

    def pull_stored(self, ref: Reference, platform: Platform | None, store: BlobStore,
                    pinned: Digest | None = None) -> tuple[StoredImage, Digest, tuple[Digest, ...]]: ...
    def fetch_all_into(self, wanted: Sequence[tuple[Reference, Descriptor, Into]],
                       store: BlobStore) -> None: ...
    def push(self, target: Reference, root: Descriptor, store: BlobStore) -> Digest: ...


def run_pull(step: PullStep, registry: Registry, store: BlobStore) -> PullResult:
    """The image's index, manifests, configs and small layers; its large layers are left for
    the registry step, which fetches each straight into its own layer (one write)."""
    platform = None if step.all_platforms else step.platforms[0]
    pinned = Digest.parse(step.pinned) if step.pinned else None
    image, root, left = registry.pull_stored(Reference.parse(step.reference), platform, store, pinned)
    return PullResult(image, root, left)


class BlobClaims:
    """Which running registry step brings which missing blob into the store (in its layer):
    one per blob in a run, so a layer two apps ship is fetched once. A step claims all it
    lacks at once, then waits for the blobs that earlier steps claimed: a step only waits
    for earlier claimants, so no two wait for each other."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claimed: dict[Digest, threading.Event] = {}

    @contextmanager
    def claim(self, digests: Iterable[Digest]) -> Iterator[list[threading.Event]]:
        """Claim those nobody claimed; yields the claims of others to wait for. On exit (the
        step's layer stored, or the step failed) the claims end and their waiters go on."""
        mine: list[Digest] = []
        theirs: list[threading.Event] = []
        with self._lock:
            for digest in digests:
                claimed = self._claimed.get(digest)
                if claimed is None:
                    self._claimed[digest] = threading.Event()
                    mine.append(digest)
                else:
                    theirs.append(claimed)
        try:
            yield theirs
        finally:
            with self._lock:
                for digest in mine:
                    self._claimed.pop(digest).set()


def run_registry(step: RegistryStep, store: BlobStore, pulls: Sequence[PullResult],
                 registry: Callable[[], Registry] | None = None,
                 claims: BlobClaims | None = None) -> LayerResult:
    """The registry/ tree as one uncompressed tar; the pulled blobs in it are then held by it
    (``BlobStore.hold``): the cache keeps their bytes once, inside the layer. Blobs the store
    lacks (the layers pulls leave in the registry) are fetched straight into their ranges of
    the layer, several at once, and the layer is hashed once complete: each byte is written
    once."""
    images = [pull.image for pull in pulls]
    entries, links = tree_entries(images)
    for data in links.values():
        store.put_bytes(data)
    descriptors = {d.digest: (image.reference, d) for image in images
                   for d in (*image.manifests, *image.blobs)}
    lacking = _lacking(entries, store)
    claims = claims or BlobClaims()
    with claims.claim(lacking) as theirs:
        for claimed in theirs:
            claimed.wait()
        lacking = _lacking(entries, store)
        unknown = [d for d in lacking if d not in descriptors or registry is None]
        if unknown:
            raise BuildError(f"{step.label}: blob {unknown[0]} is not in the content store",
                             hint="run apply again (its pull step runs again)")
        if not lacking:
            with store.writer() as blob:
                placed = write_tar(entries, store.opener, blob, step.mtime, threaded=True)
            digest, size = blob.digest, blob.size
        else:
            assert registry is not None
            layout, total = tar_layout(entries, step.mtime)
            starts = {entry.digest: start for entry, _, start in layout if entry.digest in lacking}
            with store.assembled(total) as layer:
                write_tar_at(layout, store.opener, layer, set(lacking))
                layer.expect(starts.values())
                registry().fetch_all_into(
                    [(*descriptors[d], partial(_region, layer, starts[d])) for d in lacking], store)
            placed, digest, size = data_ranges(layout), layer.digest, total
        pulled = {d.digest for pull in pulls for d in (*pull.image.manifests, *pull.image.blobs)}
        store.hold(digest, [p for p in placed if p[0] in pulled])
    layer_desc = Descriptor(MediaType.LAYER_TAR.value, digest, size)
    referenced = sorted({e.digest for e in entries if e.digest is not None} - {digest}, key=str)
    return LayerResult(layer_desc, digest, size, tuple(referenced))


def _lacking(entries: Sequence[FileEntry], store: BlobStore) -> list[Digest]:
    return list(dict.fromkeys(e.digest for e in entries if e.kind is EntryKind.FILE
                              and e.digest is not None and not store.has(e.digest, e.size)))


@contextmanager
def _region(layer: Assembly, start: int) -> Iterator[HashingWriter]:
    """A blob's range of the layer, from its first byte: what one download attempt writes."""
    sink = layer.at(start)
    yield HashingWriter(sink)
    sink.flush()
    layer.done(start)


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
