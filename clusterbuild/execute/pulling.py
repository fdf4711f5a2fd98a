"""Pull steps' link to the registry client: one reference into the store, as the
``registry/`` tree will hold it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference
from clusterbuild.places.distribution import StoredImage

if TYPE_CHECKING:
    from clusterbuild.places.registry import RegistryClient, RegistryConfig
    from clusterbuild.workflow import Settings
    from clusterbuild.workspace.load import LoadedWorkspace

_INDEXES = {MediaType.INDEX.value, MediaType.DOCKER_LIST.value}


class RegistryAccess:
    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def pull_stored(self, ref: Reference, platform: Platform | None, store: BlobStore) -> StoredImage:
        """Pull ``ref`` (one platform, or all with None); the tag names that platform's
        manifest, or the whole index."""
        pulled = self.client.pull([ref], [platform] if platform else None, store)[ref]
        manifests = tuple(image.manifest for image in pulled.images)
        blobs = tuple(dict.fromkeys(b for image in pulled.images for b in image.blobs))
        if platform is None and pulled.root.media_type in _INDEXES:
            return StoredImage(ref, pulled.root, (pulled.root, *manifests), blobs)
        return StoredImage(ref, manifests[0], manifests, blobs)

    def push(self, target: Reference, root: Descriptor, store: BlobStore) -> Digest:
        return self.client.push(target, root, store)


def registry_config(ws: LoadedWorkspace, settings: Settings) -> RegistryConfig:
    from clusterbuild.places.registry import RegistryConfig

    spec = ws.config.registries
    return RegistryConfig(
        insecure=frozenset((*spec.insecure, *settings.insecure_registries)),
        ca_file=ws.root / spec.ca_file if spec.ca_file else None,
        mirrors={host: tuple(mirrors) for host, mirrors in spec.mirrors.items()},
        jobs=max(2, settings.jobs * 2))


def lazy_registry(ws: LoadedWorkspace, settings: Settings) -> Callable[[], RegistryAccess]:
    """A factory giving one shared registry access, made on first use (only pulls need the network),
    with the user's credentials (docker config, `clusterbuild login`)."""
    lock = threading.Lock()
    made: list[RegistryAccess] = []

    def get() -> RegistryAccess:
        from clusterbuild.places.registry import Credentials, RegistryClient

        with lock:
            if not made:
                made.append(RegistryAccess(RegistryClient(registry_config(ws, settings), Credentials())))
            return made[0]

    return get
