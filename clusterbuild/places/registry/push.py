"""Pushing an image or index whose blobs are all in the content store.

Blobs first (HEAD, else a cross-repository mount when the blob was seen in another
repository of the registry, else an upload), ``config.jobs`` at a time; then child
manifests by digest; then the root by tag. The digest the registry reports must be ours.

One blob goes to one repository once at a time in a process: a second push of it (another
step, the remote step cache) waits for the first. docker-registry 2.8 rewrites a blob's
link file in place on every upload, so a manifest PUT that checks the blob while another
upload of it commits reads an empty link and is refused (DIGEST_INVALID + BLOB_UNKNOWN:
seen in CI); the manifest PUT is tried once more for a registry where that comes from
another machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import httpx

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor
from clusterbuild.oci.reference import Reference
from clusterbuild.places.registry.auth import push_scope
from clusterbuild.places.registry.blobs import blob_exists, mount_blob, upload_blob
from clusterbuild.places.registry.config import Endpoint
from clusterbuild.places.registry.errors import RegistryError
from clusterbuild.places.registry.locations import BlobLocations
from clusterbuild.places.registry.manifests import INDEX_TYPES, image_parts, index_children
from clusterbuild.places.registry.retry import backoff_delay
from clusterbuild.places.registry.session import RegistrySession
from clusterbuild.places.transfers import run_parallel


@dataclass(frozen=True)
class PushPlan:
    manifests: tuple[Descriptor, ...]  # children before their index; the root last
    blobs: tuple[Descriptor, ...]  # configs and layers, each once


def plan_push(root: Descriptor, store: BlobStore, present: frozenset[Digest] = frozenset(),
              remote: Callable[[Digest], bool] = lambda digest: False) -> PushPlan:
    """Everything ``root`` needs, read from the store; a missing blob is an error now, not mid-push
    (except configs and layers in ``present``: the target registry is said to have them; or that
    ``remote`` knows in the target registry: they are mounted from there, the remote step cache)."""
    manifests: list[Descriptor] = []
    blobs: dict[Digest, Descriptor] = {}

    def need(descriptor: Descriptor, mountable: bool = False) -> None:
        if mountable and remote(descriptor.digest):
            return
        if not store.has(descriptor.digest, descriptor.size):
            raise RegistryError(f"{descriptor.digest} ({descriptor.media_type}) is not in the content store",
                                code="BLOB_UNKNOWN")

    def walk(descriptor: Descriptor) -> None:
        need(descriptor)
        data, doing = store.read_bytes(descriptor.digest), f"reading {descriptor.digest}"
        if descriptor.media_type in INDEX_TYPES:
            for child in index_children(data, doing):
                walk(child)
        else:
            config, layers = image_parts(data, doing)
            for blob in (config, *layers):
                if blob.digest not in blobs:
                    if blob.digest not in present:
                        need(blob, mountable=True)
                    blobs[blob.digest] = blob
        if descriptor.digest not in {m.digest for m in manifests}:
            manifests.append(descriptor)

    walk(root)
    return PushPlan(tuple(manifests), tuple(blobs.values()))


_IN_FLIGHT: dict[tuple[str, str, Digest], threading.Lock] = {}
_IN_FLIGHT_LOCK = threading.Lock()
_RACED = frozenset({"DIGEST_INVALID", "BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN"})


def _one_at_a_time(host: str, repository: str, digest: Digest) -> threading.Lock:
    with _IN_FLIGHT_LOCK:
        return _IN_FLIGHT.setdefault((host, repository, digest), threading.Lock())


class Pusher:
    def __init__(self, session: RegistrySession, locations: BlobLocations) -> None:
        self.session = session
        self.locations = locations

    def push(self, target: Reference, root: Descriptor, store: BlobStore,
             present: frozenset[Digest] = frozenset()) -> Digest:
        try:
            if target.digest is not None and target.digest != root.digest:
                raise RegistryError(f"the reference names {target.digest} but the image is {root.digest}",
                                    code="DIGEST_INVALID")
            endpoint = self.session.config.endpoint(target.registry)
            plan = plan_push(root, store, present, partial(self.locations.known, endpoint.host))
            run_parallel(self.session.config.jobs,
                         [partial(self._blob, endpoint, target.repository, b, store) for b in plan.blobs])
            for manifest in plan.manifests[:-1]:
                self._manifest(endpoint, target.repository, str(manifest.digest), manifest, store)
            return self._manifest(endpoint, target.repository, target.tag or str(root.digest), root, store)
        except RegistryError as e:
            raise e.within(f"pushing {target}") from e

    def put_manifest(self, target: Reference, manifest: Descriptor, store: BlobStore) -> Digest:
        endpoint = self.session.config.endpoint(target.registry)
        name = target.tag or str(manifest.digest)
        return self._manifest(endpoint, target.repository, name, manifest, store)

    def _blob(self, endpoint: Endpoint, repository: str, blob: Descriptor, store: BlobStore) -> None:
        with _one_at_a_time(endpoint.host, repository, blob.digest):
            self._blob_once(endpoint, repository, blob, store)

    def _blob_once(self, endpoint: Endpoint, repository: str, blob: Descriptor, store: BlobStore) -> None:
        if not blob_exists(self.session, endpoint, repository, blob):
            mounted, location = self._mount(endpoint, repository, blob)
            if not mounted and not store.has(blob.digest, blob.size):
                raise RegistryError(f"blob {blob.digest} is neither in the content store nor in "
                                    f"{endpoint}/{repository}", code="BLOB_UNKNOWN")
            if not mounted:
                upload_blob(self.session, endpoint, repository, blob, store, location)
        self.locations.add(endpoint.host, blob.digest, repository)

    def _mount(self, endpoint: Endpoint, repository: str, blob: Descriptor) -> tuple[bool, str | None]:
        """(mounted, upload location the registry offered instead)."""
        source = self.locations.elsewhere(endpoint.host, blob.digest, repository)
        if source is None:
            return False, None
        try:
            location = mount_blob(self.session, endpoint, repository, blob, source)
        except RegistryError:
            return False, None  # e.g. no read access to the source repository: upload instead
        return location is None, location

    def _manifest(self, endpoint: Endpoint, repository: str, name: str, manifest: Descriptor,
                  store: BlobStore) -> Digest:
        doing = f"putting manifest {name}"

        def put() -> httpx.Response:
            return self.session.request(
                "PUT", endpoint, f"/v2/{repository}/manifests/{name}", push_scope(repository), doing,
                headers={"Content-Type": manifest.media_type}, content=store.read_bytes(manifest.digest),
                ok=(200, 201, 202))
        try:
            response = put()
        except RegistryError as e:
            if e.status != 400 or e.code not in _RACED:
                raise
            time.sleep(backoff_delay(self.session.config, 0))  # another upload of a blob it names
            response = put()
        told = response.headers.get("docker-content-digest", "")
        if told and told != str(manifest.digest):
            raise RegistryError(f"{doing}: the registry reports digest {told}, ours is {manifest.digest}",
                                code="DIGEST_INVALID")
        return Digest.parse(told) if told else manifest.digest
