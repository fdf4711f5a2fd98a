"""Pulling images from registries into the content store.

First every reference is resolved (trying mirrors in order, then the registry) and its
index and manifests are stored; then every config and layer blob the selection needs is
fetched once, whatever number of references share it, ``config.jobs`` at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

from clusterbuild.cache.store import HELD_MIN, BlobStore
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference
from clusterbuild.places.registry.blobs import Into, download_blob
from clusterbuild.places.registry.errors import RegistryError
from clusterbuild.places.registry.locations import BlobLocations
from clusterbuild.places.registry.manifests import (
    IMAGE_TYPES,
    INDEX_TYPES,
    Resolved,
    config_platform,
    image_parts,
    index_children,
)
from clusterbuild.places.registry.platform_match import candidates, normalize, select
from clusterbuild.places.registry.resolve import Resolver, Source
from clusterbuild.places.transfers import run_parallel


@dataclass(frozen=True)
class PlatformImage:
    manifest: Descriptor  # with its platform: from the index, or from the config
    config: Descriptor
    layers: tuple[Descriptor, ...]

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        return (self.config, *self.layers)


@dataclass(frozen=True)
class PulledImage:
    ref: Reference
    root: Descriptor  # what the reference names: an index or a manifest, with its media type
    images: tuple[PlatformImage, ...]  # one per selected platform (every manifest when all were asked)

    @property
    def digest(self) -> Digest:
        return self.root.digest


def left_layers(images: Sequence[PulledImage]) -> tuple[Digest, ...]:
    """The layers a pull with ``layers=False`` leaves in the registry: those of ``HELD_MIN``
    bytes or more (smaller ones keep a file of their own in the store anyway)."""
    return tuple(dict.fromkeys(layer.digest for image in images for part in image.images
                               for layer in part.layers if layer.size >= HELD_MIN))


@dataclass(frozen=True)
class _Wanted:
    blob: Descriptor
    source: Source
    ref: Reference


class Puller:
    def __init__(self, resolver: Resolver, locations: BlobLocations) -> None:
        self.resolver = resolver
        self.session = resolver.session
        self.locations = locations
        self._lock = threading.Lock()
        self._in_flight: dict[Digest, threading.Event] = {}  # blob -> set when its download ends
        # blob bodies in flight, for all pulls and registry steps of the run together: each
        # step's own pool would multiply them (2 cores, 8 steps x 16 threads fighting for them)
        self._bodies = threading.BoundedSemaphore(self.session.config.jobs)

    def pull(self, refs: Sequence[Reference], platforms: Sequence[Platform] | None,
             store: BlobStore, layers: bool = True) -> dict[Reference, PulledImage]:
        """``layers=False``: layers of ``HELD_MIN`` bytes or more are left where they are
        (``fetch_into`` brings each straight into the blob that will hold it)."""
        unique = list(dict.fromkeys(refs))
        jobs = self.session.config.jobs
        planned = run_parallel(jobs, [partial(self._plan, r, platforms, store) for r in unique])
        wanted: dict[Digest, _Wanted] = {}
        left = set() if layers else set(left_layers([image for image, _ in planned]))
        for image, source in planned:
            for blob in (b for part in image.images for b in part.blobs):
                self.locations.add(source.endpoints[0].host, blob.digest, source.repository)
                wanted.setdefault(blob.digest, _Wanted(blob, source, image.ref))
        missing = [w for w in wanted.values()
                   if w.blob.digest not in left and not store.has(w.blob.digest, w.blob.size)]
        run_parallel(jobs, [partial(self._fetch, w, store) for w in missing])
        return {image.ref: image for image, _ in planned}

    def fetch_into(self, ref: Reference, blob: Descriptor, store: BlobStore, into: Into) -> None:
        """One blob of ``ref``'s repository into ``into`` (a region of an assembled blob),
        verified, from the mirrors or the registry as a pull would."""
        source = self.resolver.source(ref)
        try:
            with self._bodies:
                self.resolver.first(source, lambda endpoint: download_blob(
                    self.session, endpoint, source.repository, blob, store, into))
        except RegistryError as e:
            raise e.within(f"pulling {ref}") from e

    def _fetch(self, wanted: _Wanted, store: BlobStore) -> None:
        """Download one blob, once whatever number of concurrent pulls want it: the first
        downloads, the others wait for it (and try themselves only if it failed)."""
        digest = wanted.blob.digest
        with self._lock:
            running = self._in_flight.get(digest)
            if running is None:
                self._in_flight[digest] = threading.Event()
        if running is not None:
            running.wait()
            if store.has(digest, wanted.blob.size):
                return
            self._download(wanted, store)
            return
        try:
            self._download(wanted, store)
        finally:
            with self._lock:
                self._in_flight.pop(digest).set()

    def _download(self, wanted: _Wanted, store: BlobStore) -> None:
        try:
            with self._bodies:
                self.resolver.first(wanted.source, lambda endpoint: download_blob(
                    self.session, endpoint, wanted.source.repository, wanted.blob, store))
        except RegistryError as e:
            raise e.within(f"pulling {wanted.ref}") from e

    def _plan(self, ref: Reference, platforms: Sequence[Platform] | None,
              store: BlobStore) -> tuple[PulledImage, Source]:
        try:
            resolved, source = self.resolver.resolve(ref)
            store.put_bytes(resolved.data)
            if resolved.is_index:
                images = self._index_images(resolved.data, source, platforms, store)
            else:
                images = [self._single_image(resolved, source, platforms, store)]
        except RegistryError as e:
            raise e.within(f"pulling {ref}") from e
        return PulledImage(ref, resolved.descriptor, tuple(images)), source

    def _index_images(self, data: bytes, source: Source, platforms: Sequence[Platform] | None,
                      store: BlobStore) -> list[PlatformImage]:
        children = index_children(data, "reading the index")
        if platforms is not None:
            children = tuple(select([c for c in children if c.media_type in IMAGE_TYPES], platforms,
                                    "choosing platforms"))
        images: list[PlatformImage] = []
        for child in children:
            fetched = self.resolver.child(source, child)
            store.put_bytes(fetched.data)
            if child.media_type in INDEX_TYPES:
                images += self._index_images(fetched.data, source, None, store)
            else:
                config, layers = image_parts(fetched.data, f"reading manifest {child.digest}")
                images.append(PlatformImage(child, config, layers))
        return images

    def _single_image(self, resolved: Resolved, source: Source, platforms: Sequence[Platform] | None,
                      store: BlobStore) -> PlatformImage:
        """A plain manifest: its platform comes from its config, fetched now."""
        config, layers = image_parts(resolved.data, f"reading manifest {resolved.digest}")
        if not store.has(config.digest, config.size):
            self.resolver.first(source, lambda endpoint: download_blob(
                self.session, endpoint, source.repository, config, store))
        found = config_platform(store.read_bytes(config.digest))
        runs_anywhere = found is not None and found.is_wasm
        missing = [p for p in platforms or () if found is not None and not runs_anywhere
                   and normalize(found) not in candidates(p)]
        if missing:
            raise RegistryError(f"the image is for {found} only, not {', '.join(map(str, missing))}",
                                code="PLATFORM_UNKNOWN")
        return PlatformImage(replace(resolved.descriptor, platform=found), config, layers)
