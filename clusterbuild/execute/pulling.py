"""Pull steps' link to the registry client: one reference into the store, as the
``registry/`` tree will hold it."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from clusterbuild.cache.store import BlobStore
from clusterbuild.execute.on_first_use import OnFirstUse
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

    def pull_stored(self, ref: Reference, platform: Platform | None, store: BlobStore,
                    pinned: Digest | None = None) -> tuple[StoredImage, Digest]:
        """Pull ``ref`` (by its pinned digest when given; one platform, or all with None).
        The tag names that platform's manifest, or the whole index; also returns the root
        digest the reference resolved to (what apps.lock pins)."""
        source = replace(ref, digest=pinned) if pinned is not None else ref
        pulled = self.client.pull([source], [platform] if platform else None, store)[source]
        manifests = tuple(image.manifest for image in pulled.images)
        blobs = tuple(dict.fromkeys(b for image in pulled.images for b in image.blobs))
        if platform is None and pulled.root.media_type in _INDEXES:
            return StoredImage(ref, pulled.root, (pulled.root, *manifests), blobs), pulled.root.digest
        return StoredImage(ref, manifests[0], manifests, blobs), pulled.root.digest

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


def lazy_registry(ws: LoadedWorkspace, settings: Settings) -> OnFirstUse[RegistryAccess]:
    """One shared registry access, made on first use (only pulls and pushes need the network),
    with the user's credentials (docker config, `clusterbuild login`)."""

    def make() -> RegistryAccess:
        from clusterbuild.places.registry import Credentials, RegistryClient

        return RegistryAccess(RegistryClient(registry_config(ws, settings), Credentials()))

    return OnFirstUse(make, lambda access: access.client.close())
