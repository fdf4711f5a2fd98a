"""The network of one run: one registry client and one HTTP fetcher, made on first use
(most applies need neither) from the run's settings, and closed at the end.

``registry()`` is what pull and push steps use; ``downloads()`` what fetch steps and
``lock`` use. Both share the one registry client (its connections, tokens, credentials).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from clusterbuild.cache.store import BlobStore
from clusterbuild.execute.fetching import Downloads
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference
from clusterbuild.oci.stored import StoredImage
from clusterbuild.settings import Settings

if TYPE_CHECKING:
    from clusterbuild.places.registry import RegistryClient, RegistryConfig
    from clusterbuild.places.registry.blobs import Into

_INDEXES = {MediaType.INDEX.value, MediaType.DOCKER_LIST.value}


class RegistrySteps:
    """Registries as pull and push steps use them, over the one client."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def pull_stored(self, ref: Reference, platform: Platform | None, store: BlobStore,
                    pinned: Digest | None = None) -> tuple[StoredImage, Digest, tuple[Digest, ...]]:
        """Pull ``ref`` (by its pinned digest when given; one platform, or all with None).
        The tag names that platform's manifest, or the whole index (all platforms, or an index
        with WebAssembly entries: it is shipped as is, with the target's manifest and the wasm
        ones); also returns the root digest the reference resolved to (what apps.lock pins).
        The large layers stay in the registry (``fetch_all_into`` brings them into the
        registry/ layer): the third value names them."""
        from clusterbuild.places.registry.pull import left_layers

        source = replace(ref, digest=pinned) if pinned is not None else ref
        pulled = self.client.pull([source], [platform] if platform else None, store, layers=False)[source]
        manifests = tuple(image.manifest for image in pulled.images)
        left = left_layers([pulled])
        blobs = tuple(dict.fromkeys(b for image in pulled.images for b in image.blobs))
        wasm = any(image.manifest.platform is not None and image.manifest.platform.is_wasm
                   for image in pulled.images)
        if (platform is None or wasm) and pulled.root.media_type in _INDEXES:
            return StoredImage(ref, pulled.root, (pulled.root, *manifests), blobs), pulled.root.digest, left
        return StoredImage(ref, manifests[0], manifests, blobs), pulled.root.digest, left

    def fetch_all_into(self, wanted: Sequence[tuple[Reference, Descriptor, Into]],
                       store: BlobStore) -> None:
        """Each (reference, blob, where its bytes go), verified, several at once."""
        from clusterbuild.places.transfers import run_parallel

        run_parallel(self.client.config.jobs, [partial(self.client.fetch_into, ref, blob, store, into)
                                               for ref, blob, into in wanted])

    def push(self, target: Reference, root: Descriptor, store: BlobStore) -> Digest:
        return self.client.push(target, root, store)


def registry_config(settings: Settings) -> RegistryConfig:
    from clusterbuild.places.registry import RegistryConfig

    access = settings.registries
    return RegistryConfig(insecure=access.insecure, ca_file=access.ca_file, mirrors=access.mirrors,
                          jobs=max(2, settings.jobs * 2), deadline=settings.timeout,
                          timeout=min(60.0, settings.timeout))


class Network:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._client: RegistryClient | None = None
        self._fetcher: Any = None
        self.used = False  # was a client made (the run may have reached a registry or URL)?

    def client(self) -> RegistryClient:
        with self._lock:
            if self._client is None:
                from clusterbuild.places.registry import Credentials, RegistryClient

                self.used = True
                self._client = RegistryClient(registry_config(self.settings), Credentials())
            return self._client

    def registry(self) -> RegistrySteps:
        return RegistrySteps(self.client())

    def downloads(self) -> Downloads:
        client = self.client()
        with self._lock:
            if self._fetcher is None:
                from clusterbuild.fetch.http import FetchConfig, Fetcher

                access = self.settings.downloads
                self._fetcher = Fetcher(FetchConfig(mirrors=access.mirrors, jobs=access.jobs,
                                                    deadline=self.settings.timeout,
                                                    timeout=min(60.0, self.settings.timeout)))
            return Downloads(self._fetcher, client)

    def close(self) -> None:
        with self._lock:
            if self._fetcher is not None:
                self._fetcher.close()
            if self._client is not None:
                self._client.close()
            self._fetcher = self._client = None
