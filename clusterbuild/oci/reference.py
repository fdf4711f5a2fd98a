"""Image references (``quay.io/cilium/cilium:v1.15@sha256:…``) as typed values.

Parsing follows docker/distribution's reference grammar and its Docker Hub
normalisation: ``nginx`` is ``docker.io/library/nginx:latest``; the first path
component is a registry host only when it has a '.' or ':' or is ``localhost``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from clusterbuild.oci.digest import Digest

DOCKER_HUB = "docker.io"
HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>sha256:[0-9a-f]{{64}}))?$")


class ReferenceError(ValueError):
    """Not an image reference; str() says why."""


@dataclass(frozen=True, order=True)
class Reference:
    registry: str  # e.g. docker.io, quay.io, 127.0.0.1:5000
    repository: str  # path without the registry, e.g. library/nginx
    tag: str = ""
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        text = text.strip()
        match = _REFERENCE.match(text)
        if match is None or len(text) > 512:
            raise ReferenceError(f"{text!r} is not an image reference")
        domain, path = match.group("domain"), match.group("path")
        if domain is not None and not ("." in domain or ":" in domain or domain == "localhost"
                                       or domain != domain.lower()):
            path, domain = f"{domain}/{path}", None  # "library/nginx": no host
        if domain is not None and domain != domain.lower() and "." not in domain:
            raise ReferenceError(f"{text!r}: repository names must be lower case")
        registry = DOCKER_HUB if domain is None or domain in HUB_ALIASES else domain
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        tag, digest = match.group("tag") or "", match.group("digest")
        return cls(registry, path, tag if tag or digest else "latest",
                   Digest.parse(digest) if digest else None)

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def tagged(self) -> Reference:
        """The reference as the run-time mirror copies it: by tag, digest dropped
        (a digest-only reference keeps its digest; the tree then tags it by digest)."""
        return replace(self, digest=None) if self.tag and self.digest else self

    @property
    def tree_tag(self) -> str:
        """The tag stored in a ``registry/`` tree: the tag, or ``sha256-<hex>`` for digest-only refs."""
        if self.tag:
            return self.tag
        assert self.digest is not None
        return f"sha256-{self.digest.hex}"
