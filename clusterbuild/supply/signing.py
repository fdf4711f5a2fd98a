"""Image signatures in cosign's format (sigstore/cosign, specs/SIGNATURE_SPEC.md).

The signed payload is a simple-signing document naming the image digest; the signature is
ECDSA P-256 over its SHA-256, DER-encoded, then base64. Both live in the registry under the
tag ``sha256-<hex>.sig``: an OCI manifest with one layer per signature, the payload as the
layer's blob (``application/vnd.dev.cosign.simplesigning.v1+json``) and the signature as its
annotation ``dev.cosignproject.cosign/signature``. Keys are PEM: a PKCS#8 (or SEC1) EC P-256
private key, optionally encrypted (the password comes from the caller, never from here), and
a SubjectPublicKeyInfo public key (cosign.pub is one). Pure values and bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import MediaType, to_bytes

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"
_ZERO_TIME = "0001-01-01T00:00:00Z"  # what cosign's signature image config says
_GENERATE = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out cosign.key"


class KeyProblem(ValueError):
    """A key that cannot be used; str() says why (never the password)."""


def signature_tag(digest: Digest) -> str:
    return f"sha256-{digest.hex}.sig"


def docker_reference(registry: str, repository: str) -> str:
    """The repository as cosign names it in the payload (Docker Hub as index.docker.io)."""
    host = "index.docker.io" if registry == "docker.io" else registry
    return f"{host}/{repository}"


def payload(reference: str, digest: Digest) -> bytes:
    """The simple-signing payload cosign signs, with its key order and no optional claims."""
    return to_bytes({"critical": {"identity": {"docker-reference": reference},
                                  "image": {"docker-manifest-digest": str(digest)},
                                  "type": SIGNATURE_TYPE},
                     "optional": None})


def payload_problem(data: bytes, digest: Digest) -> str | None:
    """Why ``data`` is not a cosign payload signing ``digest`` (None: it is)."""
    try:
        critical = json.loads(data)["critical"]
        signed = str(critical["image"]["docker-manifest-digest"])
        kind = str(critical["type"])
    except (ValueError, KeyError, TypeError):
        return "the payload is not a simple-signing document"
    if kind != SIGNATURE_TYPE:
        return f"the payload's type is {kind!r}, not {SIGNATURE_TYPE!r}"
    if signed != str(digest):
        return f"it signs {signed}, not {digest}"
    return None


@dataclass(frozen=True)
class VerifyingKey:
    key: ec.EllipticCurvePublicKey

    def verifies(self, data: bytes, signature: str) -> bool:
        try:
            self.key.verify(base64.b64decode(signature, validate=False), data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def pem(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class SigningKey:
    key: ec.EllipticCurvePrivateKey

    def __repr__(self) -> str:
        return "SigningKey(<P-256>)"

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()

    @property
    def public(self) -> VerifyingKey:
        return VerifyingKey(self.key.public_key())


def _p256(key: object) -> None:
    if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        raise KeyProblem(f"a {type(key).__name__.lstrip('_')} key, not an EC P-256 key (cosign's ECDSA-P256)")
    if not isinstance(key.curve, ec.SECP256R1):
        raise KeyProblem(f"an EC key on {key.curve.name}, not P-256 (secp256r1/prime256v1)")


def load_signing_key(data: bytes, password: str | None) -> SigningKey:
    if b"SIGSTORE PRIVATE KEY" in data or b"COSIGN PRIVATE KEY" in data:
        raise KeyProblem("cosign's own encrypted key format is not read; use a PKCS#8 PEM key "
                        f"({_GENERATE}; `cosign import-key-pair --key cosign.key` makes cosign use it too)")
    encrypted = b"ENCRYPTED" in data
    if encrypted and not password:
        raise KeyProblem("the key is encrypted and no password was given (set CLUSTERBUILD_SIGN_PASSWORD)")
    try:
        key = serialization.load_pem_private_key(data, password.encode() if encrypted and password else None)
    except TypeError:
        raise KeyProblem("the key is not encrypted; unset CLUSTERBUILD_SIGN_PASSWORD") from None
    except (ValueError, UnsupportedAlgorithm):
        if encrypted:
            raise KeyProblem("cannot decrypt the key: wrong password (CLUSTERBUILD_SIGN_PASSWORD)") from None
        raise KeyProblem(f"not a PEM private key (make one: {_GENERATE})") from None
    _p256(key)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return SigningKey(key)


def load_verifying_key(data: bytes) -> VerifyingKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise KeyProblem("not a PEM public key (-----BEGIN PUBLIC KEY-----, e.g. cosign.pub, or "
                        "`openssl pkey -in cosign.key -pubout`)") from None
    _p256(key)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return VerifyingKey(key)


@dataclass(frozen=True)
class SignatureImage:
    config: bytes
    manifest: bytes


def signature_layer(data: bytes, signature: str) -> dict[str, Any]:
    return {"mediaType": SIMPLESIGNING, "size": len(data), "digest": str(Digest.of_bytes(data)),
            "annotations": {SIGNATURE_ANNOTATION: signature}}


def signature_image(layers: Sequence[dict[str, Any]]) -> SignatureImage:
    """The signature manifest holding ``layers`` (each a payload with its signature), with the
    config cosign writes for it (one diff id and one history entry per layer)."""
    config = to_bytes({"architecture": "", "created": _ZERO_TIME,
                       "history": [{"created": _ZERO_TIME} for _ in layers], "os": "",
                       "rootfs": {"type": "layers", "diff_ids": [str(layer["digest"]) for layer in layers]},
                       "config": {}})
    manifest = to_bytes({"schemaVersion": 2, "mediaType": MediaType.MANIFEST.value,
                         "config": {"mediaType": MediaType.CONFIG.value, "size": len(config),
                                    "digest": str(Digest.of_bytes(config))},
                         "layers": list(layers)})
    return SignatureImage(config, manifest)


def signature_layers(manifest: bytes) -> list[dict[str, Any]]:
    """Every layer of a signature manifest (signatures are those of ``SIMPLESIGNING`` with the
    annotation; others, such as attestations, are kept as they are)."""
    try:
        layers = json.loads(manifest).get("layers", [])
    except (ValueError, AttributeError):
        return []
    return [layer for layer in layers if isinstance(layer, dict)] if isinstance(layers, list) else []


def signature_of(layer: dict[str, Any]) -> str | None:
    if layer.get("mediaType") != SIMPLESIGNING:
        return None
    annotations = layer.get("annotations")
    found = annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
    return str(found) if found else None
