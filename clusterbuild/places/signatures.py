"""Cosign signatures in a registry: stored under the tag ``sha256-<hex>.sig`` of the signed
digest, in the same repository, one layer per signature (``supply.signing`` makes the bytes).

Signing adds a layer to what is there (signatures by other keys or tools stay) unless this
key's signature of the same payload is there already. Verifying reads REF's current digest,
its signature manifest and each payload blob, checked against its digest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import VerificationError
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.oci.reference import Reference
from clusterbuild.places.registry import RegistryClient
from clusterbuild.supply.signing import (
    SigningKey,
    VerifyingKey,
    docker_reference,
    payload,
    payload_problem,
    signature_image,
    signature_layer,
    signature_layers,
    signature_of,
    signature_tag,
)

MAX_PAYLOAD = 1 << 20  # a simple-signing payload is a few hundred bytes


@dataclass(frozen=True)
class Signed:
    subject: Reference  # repository@digest
    tag: str  # sha256-<hex>.sig
    new: bool  # False: this key had signed it already

    def to_json(self) -> dict[str, Any]:
        return {"subject": str(self.subject), "tag": self.tag, "new": self.new}


def sign(client: RegistryClient, subject: Reference, key: SigningKey, store: BlobStore) -> Signed:
    """Sign ``subject`` (repository@digest) with ``key``, in cosign's format."""
    assert subject.digest is not None
    tag = signature_tag(subject.digest)
    where = replace(subject, tag=tag, digest=None)
    data = payload(docker_reference(subject.registry, subject.repository), subject.digest)
    there = client.manifest_at(where)
    layers = signature_layers(there.data) if there is not None else []
    ours = str(Digest.of_bytes(data))
    if any(layer.get("digest") == ours and key.public.verifies(data, signature_of(layer) or "")
           for layer in layers):
        return Signed(subject, tag, False)
    image = signature_image([*layers, signature_layer(data, key.sign(data))])
    for blob in (data, image.config, image.manifest):
        store.put_bytes(blob)
    present = frozenset(Digest.parse(str(layer["digest"])) for layer in layers)
    root = Descriptor(MediaType.MANIFEST.value, Digest.of_bytes(image.manifest), len(image.manifest))
    client.push(where, root, store, present)
    return Signed(subject, tag, True)


@dataclass(frozen=True)
class Verified:
    ref: Reference
    digest: Digest
    docker_reference: str  # what the payload names (cosign ignores it; shown)

    def to_json(self) -> dict[str, Any]:
        return {"ref": str(self.ref), "digest": str(self.digest), "signed": True,
                "dockerReference": self.docker_reference}


def verify(client: RegistryClient, ref: Reference, key: VerifyingKey) -> Verified:
    """A signature by ``key`` of the digest ``ref`` names now; else a VerificationError."""
    found = client.manifest_at(ref)
    if found is None:
        raise VerificationError(f"{ref}: not in the registry", hint="check the name and tag")
    digest = found.digest
    where = replace(ref, tag=signature_tag(digest), digest=None)
    there = client.manifest_at(where)
    if there is None:
        raise VerificationError(f"{ref} is {digest}, which is not signed (no {where})",
                                hint="sign it: apply --push --sign-key KEY (or cosign sign --key)")
    problems = []
    for n, layer in enumerate(signature_layers(there.data), 1):
        signature = signature_of(layer)
        if signature is None:
            continue
        data = _payload(client, ref, layer)
        problem = "not signed by this key" if data is None or not key.verifies(data, signature) \
            else payload_problem(data, digest)
        if problem is None and data is not None:
            return Verified(ref, digest, _identity(data))
        problems.append(f"signature {n}: {problem}")
    raise VerificationError(f"{ref} is {digest}: no valid signature by the key in {where} "
                            f"({'; '.join(problems) or 'it holds no signature'})",
                            hint="was it re-pushed after signing, or signed with another key?")


def _payload(client: RegistryClient, ref: Reference, layer: dict[str, Any]) -> bytes | None:
    """The payload blob of a signature layer, verified against its digest (None: unusable)."""
    try:
        digest, size = Digest.parse(str(layer["digest"])), int(layer["size"])
    except (KeyError, ValueError, TypeError):
        return None
    if size > MAX_PAYLOAD:
        return None
    data = b"".join(client.read_blob(ref, digest, 0, size))
    return data if Digest.of_bytes(data) == digest else None


def _identity(data: bytes) -> str:
    try:
        return str(json.loads(data)["critical"]["identity"]["docker-reference"])
    except (ValueError, KeyError, TypeError):
        return ""
