"""The registry client: resolve, pull, push and copy images (OCI and Docker schema 2).

One client holds one HTTP connection pool, the tokens it obtained, and where it saw
blobs (for cross-repository mounts); it is safe to share between threads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

import httpx

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, to_bytes
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference
from clusterbuild.places.registry.blobs import Into, download_blob
from clusterbuild.places.registry.config import RegistryConfig
from clusterbuild.places.registry.credentials import Credentials
from clusterbuild.places.registry.errors import RegistryError, UnsupportedManifestError
from clusterbuild.places.registry.locations import BlobLocations
from clusterbuild.places.registry.manifests import Resolved
from clusterbuild.places.registry.platform_match import host_platform
from clusterbuild.places.registry.pull import PulledImage, Puller
from clusterbuild.places.registry.push import Pusher
from clusterbuild.places.registry.resolve import Resolver
from clusterbuild.places.registry.session import RegistrySession
from clusterbuild.places.registry.site import blob_range, list_catalog, list_referrers, list_tags


class RegistryClient:
    def __init__(self, config: RegistryConfig | None = None, credentials: Credentials | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        """``credentials=None`` is anonymous access; pass ``Credentials()`` for the user's logins."""
        self.config = config or RegistryConfig()
        self._session = RegistrySession(self.config, credentials, transport)
        self._locations = BlobLocations()
        self._resolver = Resolver(self._session)
        self._puller = Puller(self._resolver, self._locations)
        self._pusher = Pusher(self._session, self._locations)

    def __repr__(self) -> str:
        return f"RegistryClient({self.config!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def check_login(self, registry: str) -> None:
        """``GET /v2/`` with the credentials (Basic, or a token for them): what ``docker login``
        does. A RegistryError (UNAUTHORIZED) when the registry refuses them."""
        endpoint = self.config.endpoint(registry)
        response = self._session.request("GET", endpoint, "/v2/", (), f"logging in to {endpoint}")
        response.close()

    def resolve(self, ref: Reference) -> Resolved:
        """The manifest or index ``ref`` names (by tag or digest): media type, digest, size, bytes."""
        try:
            return self._resolver.resolve(ref)[0]
        except RegistryError as e:
            raise e.within(f"resolving {ref}") from e

    def pull(self, refs: Sequence[Reference], platforms: Sequence[Platform] | None,
             store: BlobStore, layers: bool = True) -> dict[Reference, PulledImage]:
        """Store each reference's index, manifests and blobs for ``platforms`` (all when None);
        ``layers=False`` leaves out the large layers (``Puller.pull``)."""
        return self._puller.pull(refs, platforms, store, layers)

    def fetch_into(self, ref: Reference, blob: Descriptor, store: BlobStore, into: Into) -> None:
        """One blob of ``ref``'s repository into ``into``, verified (``Puller.fetch_into``)."""
        self._puller.fetch_into(ref, blob, store, into)

    def push(self, target: Reference, root: Descriptor, store: BlobStore,
             present: frozenset[Digest] = frozenset()) -> Digest:
        """Push the image or index ``root`` (everything it needs in ``store``, but configs and
        layers of ``present``, which the registry has: in the target repository, or in one
        ``seen_blob`` names, mounted from there); the registry's digest."""
        return self._pusher.push(target, root, store, present)

    def seen_blob(self, registry: str, digest: Digest, repository: str) -> None:
        """Note that ``repository`` of ``registry`` holds ``digest`` (a source to mount from)."""
        self._locations.add(self.config.endpoint(registry).host, digest, repository)

    def repositories(self, registry: str) -> list[str]:
        """Every repository of the registry (``/v2/_catalog``, followed page by page)."""
        return list_catalog(self._session, self.config.endpoint(registry))

    def tags(self, ref: Reference) -> list[str]:
        return list_tags(self._session, self.config.endpoint(ref.registry), ref.repository)

    def manifest_at(self, ref: Reference) -> Resolved | None:
        """The manifest or index ``ref`` names in its own registry (never a mirror: what a push
        there will replace), or None when there is none (404)."""
        name = str(ref.digest) if ref.digest is not None else ref.tag
        try:
            return self._resolver.fetch(self.config.endpoint(ref.registry), ref, name, ref.digest)
        except UnsupportedManifestError:
            raise
        except RegistryError as e:
            if e.status == 404 or e.code == "MANIFEST_UNKNOWN":
                return None
            raise e.within(f"resolving {ref}") from e

    def referrers(self, repo: Reference, digest: Digest) -> list[dict[str, Any]] | None:
        """The descriptors the referrers API of ``repo``'s registry lists for ``digest``; None
        when the registry has no referrers API (use the fallback tag ``sha256-<hex>``)."""
        return list_referrers(self._session, self.config.endpoint(repo.registry), repo.repository, digest)

    def read_blob(self, ref: Reference, digest: Digest, offset: int = 0,
                  size: int | None = None) -> Iterator[bytes]:
        """The bytes of a blob of ``ref``'s repository from ``offset`` (``size`` of them, or to the end)."""
        return blob_range(self._session, self.config.endpoint(ref.registry), ref.repository, digest,
                          offset, size)

    def put_manifest(self, target: Reference, manifest: Descriptor, store: BlobStore) -> Digest:
        """PUT one manifest or index of the store as ``target`` (what it references must be in
        the repository already, e.g. an index whose images were pushed by CI shards)."""
        try:
            return self._pusher.put_manifest(target, manifest, store)
        except RegistryError as e:
            raise e.within(f"pushing {target}") from e

    def fetch_blob(self, repo: Reference, blob: Descriptor, store: BlobStore) -> None:
        """One blob of ``repo`` into the store, verified against its digest and size."""
        endpoint = self.config.endpoint(repo.registry)
        try:
            download_blob(self._session, endpoint, repo.repository, blob, store)
        except RegistryError as e:
            raise e.within(f"fetching {repo.name}@{blob.digest}") from e

    def remember(self, repo: Reference, digests: Sequence[Digest]) -> None:
        """``repo`` holds these blobs: a push to its registry may mount them from there."""
        host = self.config.endpoint(repo.registry).host
        for digest in digests:
            self._locations.add(host, digest, repo.repository)

    def copy(self, src: Reference, dst: Reference, store: BlobStore, all_platforms: bool = True,
             platforms: Sequence[Platform] | None = None) -> Digest:
        """Copy ``src`` to ``dst`` through the store. Without ``all_platforms`` only ``platforms``
        (default: this machine's) are copied: one manifest as is, several as a reduced index."""
        wanted = None if all_platforms else list(platforms or [host_platform()])
        pulled = self.pull([src], wanted, store)[src]
        root = pulled.root
        if wanted is not None and len(pulled.images) == 1:
            root = pulled.images[0].manifest
        elif wanted is not None and len(pulled.images) > 1:
            root = reduced_index(store, pulled)
        return self.push(dst, root, store)


def reduced_index(store: BlobStore, pulled: PulledImage) -> Descriptor:
    """The pulled index with only the selected manifests (a new index, of the same media type)."""
    index = json.loads(store.read_bytes(pulled.root.digest))
    keep = {str(image.manifest.digest) for image in pulled.images}
    if {m["digest"] for m in index["manifests"]} <= keep:
        return pulled.root
    index["manifests"] = [m for m in index["manifests"] if m["digest"] in keep]
    data = to_bytes(index)
    return Descriptor(pulled.root.media_type, store.put_bytes(data), len(data))
