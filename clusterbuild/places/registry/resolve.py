"""Finding a manifest: by tag or digest, on each mirror of the registry in turn, then the registry.

The endpoint that answered is tried first for everything the manifest references; a mirror
gets one attempt per request (a dead or lagging mirror should cost little), the registry
itself the configured retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor
from clusterbuild.oci.reference import Reference
from clusterbuild.places.registry.auth import pull_scope
from clusterbuild.places.registry.config import Endpoint
from clusterbuild.places.registry.errors import RegistryError, UnsupportedManifestError, error_from_transport
from clusterbuild.places.registry.manifests import (
    ACCEPT,
    MAX_MANIFEST_BYTES,
    Resolved,
    media_type_of,
    verify_manifest,
)
from clusterbuild.places.registry.retry import backoff_delay
from clusterbuild.places.registry.session import RegistrySession

T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    """Where a reference's content is read: its repository on these endpoints, in this order."""

    ref: Reference
    endpoints: tuple[Endpoint, ...]

    @property
    def repository(self) -> str:
        return self.ref.repository


class Resolver:
    def __init__(self, session: RegistrySession) -> None:
        self.session = session

    def source(self, ref: Reference) -> Source:
        return Source(ref, self.session.config.endpoints(ref.registry))

    def first(self, source: Source, action: Callable[[Endpoint], T]) -> T:
        """``action`` on each endpoint in order until one succeeds; else the last endpoint's error."""
        error: RegistryError | None = None
        for endpoint in source.endpoints:
            try:
                return action(endpoint)
            except UnsupportedManifestError:
                raise
            except RegistryError as e:
                error = e
        assert error is not None, "a source has at least one endpoint"
        raise error

    def resolve(self, ref: Reference) -> tuple[Resolved, Source]:
        """The manifest ``ref`` names, and its source with the endpoint that answered first."""
        source = self.source(ref)
        name = str(ref.digest) if ref.digest is not None else ref.tag
        found = self.first(source, lambda e: self.fetch(e, ref, name, ref.digest))
        answered = next(e for e in source.endpoints if e.host == found.endpoint)
        ordered = (answered, *(e for e in source.endpoints if e != answered))
        return found, Source(ref, ordered)

    def child(self, source: Source, child: Descriptor) -> Resolved:
        return self.first(source, lambda e: self.fetch(e, source.ref, str(child.digest), child.digest))

    def fetch(self, endpoint: Endpoint, ref: Reference, name: str, expect: Digest | None) -> Resolved:
        doing = f"fetching manifest {name}" + (f" from mirror {endpoint}" if endpoint.mirror else "")
        tries = 1 if endpoint.mirror else self.session.config.retries + 1
        for attempt in range(tries):
            response = self.session.request(
                "GET", endpoint, f"/v2/{ref.repository}/manifests/{name}", pull_scope(ref.repository),
                doing, headers={"Accept": ACCEPT}, stream=True, attempts=tries - attempt)
            try:
                data = _read_limited(response, doing)
                break
            except httpx.TransportError as e:
                if attempt == tries - 1:
                    raise error_from_transport(e, doing) from e
                time.sleep(backoff_delay(self.session.config, attempt))
            finally:
                response.close()
        media_type = media_type_of(data, response.headers.get("content-type", ""), doing)
        told = response.headers.get("docker-content-digest", "")
        digest = verify_manifest(data, expect, told, doing)
        return Resolved(ref, Descriptor(media_type, digest, len(data)), data, endpoint.host)


def _read_limited(response: httpx.Response, doing: str) -> bytes:
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) > MAX_MANIFEST_BYTES:
            raise RegistryError(f"{doing}: larger than {MAX_MANIFEST_BYTES} bytes", code="MANIFEST_INVALID")
    return bytes(data)
