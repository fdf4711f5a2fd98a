"""Content digests as typed values."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, order=True)
class Digest:
    """A sha256 content digest, printed as ``sha256:<hex>``."""

    hex: str

    def __post_init__(self) -> None:
        if not _HEX.match(self.hex):
            raise ValueError(f"not a sha256 hex digest: {self.hex!r}")

    @classmethod
    def parse(cls, text: str) -> Digest:
        algorithm, _, hex_ = text.partition(":")
        if algorithm != "sha256" or not hex_:
            raise ValueError(f"unsupported digest {text!r}: expected sha256:<64 hex>")
        return cls(hex_)

    @classmethod
    def of_bytes(cls, data: bytes) -> Digest:
        return cls(hashlib.sha256(data).hexdigest())

    def __str__(self) -> str:
        return f"sha256:{self.hex}"

    @property
    def short(self) -> str:
        return self.hex[:12]
