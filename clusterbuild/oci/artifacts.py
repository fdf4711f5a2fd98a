"""Artifacts that refer to an image (OCI image-spec 1.1): a manifest whose ``subject`` is the
image, listed by the registry's referrers API or, where it has none, in the index stored under
the fallback tag ``sha256-<hex>`` of the subject's digest. Pure values and bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType, to_bytes

EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"  # the empty descriptor's content (image-spec 1.1)
TITLE = "org.opencontainers.image.title"


def fallback_tag(digest: Digest) -> str:
    """The tag that lists the referrers of ``digest`` where the registry has no referrers API."""
    return f"sha256-{digest.hex}"


@dataclass(frozen=True)
class Artifact:
    """An artifact manifest and the blobs it names (its empty config, its one layer)."""

    artifact_type: str
    manifest: bytes
    blobs: tuple[tuple[Descriptor, bytes], ...]
    annotations: tuple[tuple[str, str], ...] = ()

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(MediaType.MANIFEST.value, Digest.of_bytes(self.manifest), len(self.manifest))

    def listing(self) -> dict[str, Any]:
        """The artifact as a referrers list names it: its descriptor, artifactType, annotations."""
        entry = {**self.descriptor.to_json(), "artifactType": self.artifact_type}
        if self.annotations:
            entry["annotations"] = dict(self.annotations)
        return entry


def artifact(artifact_type: str, content: bytes, title: str, subject: Descriptor,
             annotations: tuple[tuple[str, str], ...] = ()) -> Artifact:
    """``content`` (e.g. an SPDX document) as an artifact of ``artifact_type`` about ``subject``."""
    config = Descriptor(EMPTY_MEDIA_TYPE, Digest.of_bytes(EMPTY), len(EMPTY))
    layer = Descriptor(artifact_type, Digest.of_bytes(content), len(content), annotations=((TITLE, title),))
    body: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": MediaType.MANIFEST.value, "artifactType": artifact_type,
        "config": config.to_json(), "layers": [layer.to_json()],
        "subject": Descriptor(subject.media_type, subject.digest, subject.size).to_json()}
    if annotations:
        body["annotations"] = dict(annotations)
    return Artifact(artifact_type, to_bytes(body), ((config, EMPTY), (layer, content)), annotations)


def referrer_entries(index_data: bytes) -> list[dict[str, Any]]:
    """The descriptors a fallback index lists."""
    return [m for m in _index(index_data).get("manifests", []) if isinstance(m, dict)]


def with_referrer(index_data: bytes | None, entry: dict[str, Any]) -> bytes | None:
    """The fallback index with ``entry`` added, every other referrer kept as it was; None when
    it lists ``entry`` already (nothing to write)."""
    body = _index(index_data) if index_data is not None else {
        "schemaVersion": 2, "mediaType": MediaType.INDEX.value, "manifests": []}
    manifests = referrer_entries(index_data) if index_data is not None else []
    if any(m.get("digest") == entry["digest"] for m in manifests):
        return None
    return to_bytes({**body, "manifests": [*manifests, entry]})


def _index(data: bytes) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("manifests", []), list) or \
            body.get("mediaType", MediaType.INDEX.value) != MediaType.INDEX.value:
        raise ValueError("not an OCI image index")
    return body
