"""The one hashing policy of clusterbuild.

A step's key is the sha256 of the canonical JSON of its kind, its
implementation version, and its *fingerprint*: named components covering its
parameters and the content digests (or upstream step keys) of its inputs.
Names let ``plan`` say which input changed; the key says whether anything did.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

Fingerprint = dict[str, str]


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def step_key(kind: str, implementation: int, fingerprint: Fingerprint) -> str:
    payload = {"kind": kind, "implementation": implementation, "fingerprint": fingerprint}
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def value_digest(obj: Any) -> str:
    """A short stand-in for a structured parameter inside a fingerprint."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def changed_names(old: Fingerprint, new: Fingerprint) -> list[str]:
    names = set(old) | set(new)
    return sorted(n for n in names if old.get(n) != new.get(n))
