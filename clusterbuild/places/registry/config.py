"""How registries are reached: plain HTTP or HTTPS, extra CAs, mirrors, parallelism, retries.

A registry *name* is what references carry (``docker.io``, ``quay.io``, ``127.0.0.1:5000``);
an *endpoint* is a host actually contacted: a mirror or the registry's API host
(``registry-1.docker.io`` for Docker Hub).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import httpx

from clusterbuild.oci.reference import DOCKER_HUB, HUB_ALIASES

HUB_API_HOST = "registry-1.docker.io"


def registry_name(host: str) -> str:
    """The canonical name of a registry host, as credentials and mirrors are keyed:
    ``https://index.docker.io/v1/`` and ``registry-1.docker.io`` are ``docker.io``."""
    host = host.strip().lower()
    for scheme in ("https://", "http://"):
        host = host.removeprefix(scheme)
    host = host.split("/", 1)[0]
    return DOCKER_HUB if host in HUB_ALIASES else host


def api_host(registry: str) -> str:
    name = registry_name(registry)
    return HUB_API_HOST if name == DOCKER_HUB else name


@dataclass(frozen=True)
class Endpoint:
    """One host to send registry API requests to; ``registry`` is the name credentials use."""

    host: str
    secure: bool
    registry: str
    mirror: bool = False

    def url(self, path: str) -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}{path}"

    def __str__(self) -> str:
        return self.host


@dataclass(frozen=True)
class RegistryConfig:
    insecure: frozenset[str] = frozenset()  # hosts reached over plain HTTP, e.g. "127.0.0.1:5000"
    ca_file: Path | None = None  # extra CA bundle for self-signed registries
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    jobs: int = 4  # parallel blob transfers
    timeout: float = 60.0  # seconds for connecting and for each read
    deadline: float = 900.0  # seconds one transfer (a manifest, a blob) may take in all, retries included
    max_redirects: int = 10
    retries: int = 5
    backoff: float = 0.5  # first retry delay in seconds; doubles per attempt
    max_delay: float = 30.0  # cap on backoff and on a server's Retry-After
    chunk_size: int = 64 << 20  # blobs larger than this are uploaded in PATCH chunks of this size

    def __post_init__(self) -> None:
        if self.jobs < 1 or self.retries < 0 or self.chunk_size < 1:
            raise ValueError("RegistryConfig: jobs and chunk_size must be >= 1, retries >= 0")

    def _secure(self, host: str) -> bool:
        return host not in self.insecure and registry_name(host) not in self.insecure

    def endpoint(self, registry: str) -> Endpoint:
        """The registry itself (pushes go only there)."""
        host = api_host(registry)
        return Endpoint(host, self._secure(host), registry_name(registry))

    def endpoints(self, registry: str) -> tuple[Endpoint, ...]:
        """Where to read from: each mirror of the registry in order, then the registry."""
        name = registry_name(registry)
        mirrors = next((hosts for key, hosts in self.mirrors.items() if registry_name(key) == name), ())
        found = [Endpoint(h, self._secure(h), registry_name(h), mirror=True) for h in mirrors]
        return (*found, self.endpoint(name))

    def ssl_context(self) -> ssl.SSLContext:
        context = httpx.create_ssl_context()
        if self.ca_file is not None:
            context.load_verify_locations(cafile=str(self.ca_file))
        return context
