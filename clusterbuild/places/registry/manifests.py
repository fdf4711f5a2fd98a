"""Manifests as registries serve them: media types, verification, and what each one references.

Accepted: OCI image index and manifest, Docker schema 2 manifest and manifest list.
Docker schema 1 (signed or not) is refused with a hint to re-push the image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference
from clusterbuild.places.registry.errors import RegistryError, UnsupportedManifestError

INDEX_TYPES = frozenset({MediaType.INDEX.value, MediaType.DOCKER_LIST.value})
IMAGE_TYPES = frozenset({MediaType.MANIFEST.value, MediaType.DOCKER_MANIFEST.value})
SCHEMA1_TYPES = frozenset({"application/vnd.docker.distribution.manifest.v1+json",
                           "application/vnd.docker.distribution.manifest.v1+prettyjws"})
ACCEPT = ", ".join(sorted(INDEX_TYPES | IMAGE_TYPES))
MAX_MANIFEST_BYTES = 4 << 20  # as containerd: a larger "manifest" is not one


@dataclass(frozen=True)
class Resolved:
    """A manifest or index as a registry served it, verified against its digest."""

    ref: Reference
    descriptor: Descriptor
    data: bytes = field(repr=False)
    endpoint: str = ""  # the host that answered (a mirror or the registry)

    @property
    def media_type(self) -> str:
        return self.descriptor.media_type

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    @property
    def size(self) -> int:
        return self.descriptor.size

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def media_type_of(data: bytes, content_type: str, doing: str) -> str:
    """The manifest's media type: from its body when it says, else the Content-Type header."""
    try:
        body = json.loads(data)
    except ValueError:
        raise RegistryError(f"{doing}: the manifest is not JSON", code="MANIFEST_INVALID") from None
    declared = body.get("mediaType", "") if isinstance(body, dict) else ""
    header = content_type.split(";", 1)[0].strip()
    schema = body.get("schemaVersion") if isinstance(body, dict) else None
    if schema == 1 or header in SCHEMA1_TYPES or declared in SCHEMA1_TYPES:
        raise UnsupportedManifestError(
            f"{doing}: the image uses Docker manifest schema 1, which clusterbuild does not read",
            code="MANIFEST_SCHEMA1",
            hint="re-push the image with a v2 schema "
                 "(e.g. `skopeo copy --format v2s2`, or a current docker push)")
    media_type = str(declared or header)
    if not media_type and isinstance(body, dict):
        media_type = MediaType.INDEX.value if "manifests" in body else MediaType.MANIFEST.value
    if media_type not in INDEX_TYPES | IMAGE_TYPES:
        raise UnsupportedManifestError(f"{doing}: unsupported manifest media type {media_type!r}",
                                       code="MANIFEST_UNSUPPORTED")
    return media_type


def verify_manifest(data: bytes, expect: Digest | None, told: str, doing: str) -> Digest:
    """The digest of ``data``; it must equal the one asked for and the one the registry told."""
    actual = Digest.of_bytes(data)
    if expect is not None and actual != expect:
        raise RegistryError(f"{doing}: the registry sent a manifest of digest {actual}, not {expect}",
                            code="DIGEST_INVALID")
    if told and told.startswith("sha256:") and told != str(actual):
        raise RegistryError(f"{doing}: Docker-Content-Digest says {told} but the manifest is {actual}",
                            code="DIGEST_INVALID")
    return actual


def _load(data: bytes, doing: str) -> dict[str, Any]:
    body = json.loads(data)
    if not isinstance(body, dict):
        raise RegistryError(f"{doing}: the manifest is not a JSON object", code="MANIFEST_INVALID")
    return body


def index_children(data: bytes, doing: str) -> tuple[Descriptor, ...]:
    try:
        return tuple(Descriptor.from_json(m) for m in _load(data, doing).get("manifests", []))
    except (KeyError, ValueError, TypeError) as e:
        raise RegistryError(f"{doing}: malformed index entry ({e})", code="MANIFEST_INVALID") from None


def image_parts(data: bytes, doing: str) -> tuple[Descriptor, tuple[Descriptor, ...]]:
    """(config, layers) of an image manifest; foreign and non-distributable layers are left out."""
    try:
        body = _load(data, doing)
        config = Descriptor.from_json(body["config"])
        layers = tuple(Descriptor.from_json(layer) for layer in body.get("layers", []))
    except (KeyError, ValueError, TypeError) as e:
        raise RegistryError(f"{doing}: malformed manifest ({e})", code="MANIFEST_INVALID") from None
    return config, tuple(layer for layer in layers if not is_foreign(layer))


def is_foreign(descriptor: Descriptor) -> bool:
    return "foreign" in descriptor.media_type or "nondistributable" in descriptor.media_type


def config_platform(data: bytes) -> Platform | None:
    """The platform an image config declares, if it declares one."""
    try:
        body = json.loads(data)
        return Platform(str(body["os"]), str(body["architecture"]), str(body.get("variant") or ""))
    except (ValueError, KeyError, TypeError):
        return None
