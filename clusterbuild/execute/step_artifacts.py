"""A step's record as a small OCI artifact: what the remote step cache stores per step key.

    tag       <kind>-<step key>                       (e.g. layer-3f2a…; 64 hex, under 128 chars)
    manifest  application/vnd.oci.image.manifest.v1+json, artifactType STEP_TYPE
    config    the record: {"kind", "key", "implementation", "slot", "fingerprint", "result"}
              (media type STEP_TYPE)
    layers    the blobs the result names, each a plain blob of the repository

Any registry that stores OCI manifests serves it (Debian's docker-registry 2.8 included);
the registry checks that every listed blob is there, so a record never names a blob the
repository lacks. Nothing here touches the network.
"""

from __future__ import annotations

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


def step_artifact(step: Step, result: StepResult, size_of: Callable[[Digest], int]) -> StepArtifact:
    """The artifact of ``step``'s result; ``size_of`` gives each blob's size (from the store)."""
    record = to_bytes({"kind": step.kind, "key": step.key, "implementation": step.implementation,
                       "slot": step.slot, "fingerprint": step.fingerprint(), "result": encode(result)})
    config = Descriptor(STEP_TYPE, Digest.of_bytes(record), len(record))
    layers = [Descriptor(BLOB_TYPE, d, size_of(d)).to_json() for d in own_blobs(result)]
    manifest = {"schemaVersion": 2, "mediaType": MediaType.MANIFEST.value, "artifactType": STEP_TYPE,
                "config": config.to_json(), "layers": layers,
                "annotations": {KIND_ANNOTATION: step.kind, SLOT_ANNOTATION: step.slot}}
    return StepArtifact(to_bytes(manifest), record)


class BadArtifact(ValueError):
    """Not a clusterbuild step record (or not the one asked for)."""


def artifact_parts(data: bytes) -> tuple[Descriptor, tuple[Descriptor, ...]]:
    """(record descriptor, blob descriptors) of an artifact manifest."""
    try:
        body = json.loads(data)
        config = Descriptor.from_json(body["config"])
        blobs = tuple(Descriptor.from_json(layer) for layer in body.get("layers", []))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadArtifact(f"not a step artifact manifest ({type(exc).__name__}: {exc})") from None
    if config.media_type != STEP_TYPE:
        raise BadArtifact(f"config media type {config.media_type!r}, expected {STEP_TYPE}")
    return config, blobs


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
