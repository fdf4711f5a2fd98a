"""A step's record as a small OCI artifact: what the remote step cache stores per step key.

    tag       <kind>-<step key>                       (e.g. layer-3f2a…; 64 hex, under 128 chars)
    manifest  application/vnd.oci.image.manifest.v1+json, artifactType STEP_TYPE
    config    the record: {"kind", "key", "implementation", "slot", "fingerprint", "result"}
              (media type STEP_TYPE), also embedded in the descriptor (``data``, base64, OCI
              1.1) so that a look-up is one request; a reader checks it against the digest
              and fetches the blob when it is absent or does not match
    layers    the blobs the result names, each a plain blob of the repository; small ones
              (an image's manifest and config) embedded too (``data``), so that a shard
              pushing by mounts reads them from the look-up, not by a request each

Any registry that stores OCI manifests serves it (Debian's docker-registry 2.8 included);
the registry checks that every listed blob is there, so a record never names a blob the
repository lacks. Nothing here touches the network.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType, to_bytes
from clusterbuild.plan.results import LayerResult, StepResult, UndecodableResult, decode, encode
from clusterbuild.plan.steps import Step

STEP_TYPE = "application/vnd.clusterbuild.step.v1+json"
BLOB_TYPE = "application/octet-stream"
EMBED_MAX = 4096  # bytes of a blob embedded in the artifact manifest
EMBED_TOTAL = 64 * 1024  # bytes of all embedded blobs of one manifest
KIND_ANNOTATION = "org.clusterbuild.step.kind"
SLOT_ANNOTATION = "org.clusterbuild.step.slot"

# Step kinds whose results the remote cache holds: deterministic outputs of their key.
# Export (a local layout) and push (a side effect) are never cached remotely.
CACHED_KINDS = frozenset({"fetch", "unpack", "script", "scan", "pull", "registry", "layer",
                          "image", "index"})


def step_tag(step: Step) -> str:
    return f"{step.kind}-{step.key}"


def own_blobs(result: StepResult) -> tuple[Digest, ...]:
    """The blobs a record lists: all a consumer may fetch. A registry/ layer lists only its tar
    (the pulled blobs inside it belong to the pull steps)."""
    if isinstance(result, LayerResult):
        return (result.layer.digest,)
    return tuple(dict.fromkeys(result.blobs))


@dataclass(frozen=True)
class StepArtifact:
    manifest: bytes
    record: bytes

    @property
    def manifest_descriptor(self) -> Descriptor:
        return Descriptor(MediaType.MANIFEST.value, Digest.of_bytes(self.manifest), len(self.manifest))


def step_artifact(step: Step, result: StepResult, size_of: Callable[[Digest], int],
                  small: Callable[[Digest], bytes | None] = lambda _: None) -> StepArtifact:
    """The artifact of ``step``'s result; ``size_of`` gives each blob's size (from the store),
    ``small`` the bytes of a blob of at most EMBED_MAX bytes (None: not at hand)."""
    record = to_bytes({"kind": step.kind, "key": step.key, "implementation": step.implementation,
                       "slot": step.slot, "fingerprint": step.fingerprint(), "result": encode(result)})
    config = Descriptor(STEP_TYPE, Digest.of_bytes(record), len(record))
    layers, budget = [], EMBED_TOTAL
    for digest in own_blobs(result):
        layer = Descriptor(BLOB_TYPE, digest, size_of(digest)).to_json()
        data = small(digest) if layer["size"] <= min(EMBED_MAX, budget) else None
        if data is not None:
            layer["data"] = _b64(data)
            budget -= len(data)
        layers.append(layer)
    embedded = config.to_json() | {"data": _b64(record)}
    manifest = {"schemaVersion": 2, "mediaType": MediaType.MANIFEST.value, "artifactType": STEP_TYPE,
                "config": embedded, "layers": layers,
                "annotations": {KIND_ANNOTATION: step.kind, SLOT_ANNOTATION: step.slot}}
    return StepArtifact(to_bytes(manifest), record)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class BadArtifact(ValueError):
    """Not a clusterbuild step record (or not the one asked for)."""


@dataclass(frozen=True)
class ArtifactParts:
    record: Descriptor
    blobs: tuple[Descriptor, ...]
    embedded: bytes | None  # the record's bytes from the manifest, checked against its digest
    small: dict[Digest, bytes]  # blobs embedded in the manifest, each checked against its digest


def artifact_parts(data: bytes) -> ArtifactParts:
    """The record descriptor (and embedded bytes) and the blob descriptors of an artifact manifest."""
    try:
        body = json.loads(data)
        config = Descriptor.from_json(body["config"])
        layers = body.get("layers", [])
        blobs = tuple(Descriptor.from_json(layer) for layer in layers)
        inline = [body["config"].get("data"), *(layer.get("data") for layer in layers)]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadArtifact(f"not a step artifact manifest ({type(exc).__name__}: {exc})") from None
    if config.media_type != STEP_TYPE:
        raise BadArtifact(f"config media type {config.media_type!r}, expected {STEP_TYPE}")
    small = {blob.digest: got for blob, given in zip(blobs, inline[1:], strict=True)
             if (got := embedded(given, blob.size, blob.digest)) is not None}
    return ArtifactParts(config, blobs, embedded(inline[0], config.size, config.digest), small)


def embedded(inline: object, size: object, digest: object) -> bytes | None:
    """Embedded bytes (base64, a descriptor's ``data``) when they are the ``size`` bytes of
    ``digest`` (a Digest or its text); else None, and they are fetched."""
    if not isinstance(inline, str):
        return None
    try:
        data = base64.b64decode(inline, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if len(data) == size and str(Digest.of_bytes(data)) == str(digest) else None


def read_record(step: Step, data: bytes) -> StepResult:
    """The result a record holds for ``step``; BadArtifact when it is another step's or damaged."""
    try:
        record: Any = json.loads(data)
        kind, key, result = record["kind"], record["key"], record["result"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BadArtifact(f"the record is not JSON of a step ({type(exc).__name__})") from None
    if kind != step.kind or key != step.key:
        raise BadArtifact(f"the record is of {kind} {str(key)[:12]}, not of this step")
    try:
        return decode(step.kind, result)
    except UndecodableResult as exc:
        raise BadArtifact(str(exc)) from None
