"""An image as a registry/ tree stores it: what its tag points at and every blob it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clusterbuild.oci.model import Descriptor
from clusterbuild.oci.reference import Reference


@dataclass(frozen=True)
class StoredImage:
    """One reference as the tree stores it; every blob named here is in the content store."""

    reference: Reference
    top: Descriptor  # what the tag points at: a platform manifest, or the whole index
    manifests: tuple[Descriptor, ...]  # every manifest stored (the index too, when stored)
    blobs: tuple[Descriptor, ...]  # configs and layers of those manifests

    def to_json(self) -> dict[str, Any]:
        return {"reference": str(self.reference), "top": self.top.to_json(),
                "manifests": [d.to_json() for d in self.manifests],
                "blobs": [d.to_json() for d in self.blobs]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> StoredImage:
        return cls(Reference.parse(obj["reference"]), Descriptor.from_json(obj["top"]),
                   tuple(Descriptor.from_json(d) for d in obj["manifests"]),
                   tuple(Descriptor.from_json(d) for d in obj["blobs"]))
