"""What one app version ships, from its plan and apps.lock: the inventory an SBOM describes.

Every image shipped in registry/ (reference, source registry, the root digest apps.lock pins,
the manifest digest of each platform), every remote input pinned in apps.lock (charts with
name, version, repository and archive digest; binaries, manifests and files with URL, sha256
and platform), every local file input and local chart with their content digest. Values are
sorted, so equal inputs give equal inventories: nothing here depends on time or on the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ALL = "*"


@dataclass(frozen=True, order=True)
class ImageItem:
    reference: str  # normalised, as stored under its tag in registry/
    registry: str  # the registry it comes from, e.g. quay.io
    root: str  # sha256:… apps.lock pins (an index or a manifest); "" when not pinned
    platforms: tuple[tuple[str, str], ...] = ()  # (platform, manifest digest) when known

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "registry": self.registry, "digest": self.root,
                "platforms": dict(self.platforms)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ImageItem:
        return cls(str(obj["reference"]), str(obj["registry"]), str(obj["digest"]),
                   tuple(sorted((str(k), str(v)) for k, v in obj.get("platforms", {}).items())))


@dataclass(frozen=True, order=True)
class InputItem:
    kind: str  # chart, binary, manifest, url, archive, file
    name: str  # chart name, or where it lands in the image (opt/helm)
    platform: str  # ALL, or e.g. linux/arm64
    sha256: str  # hex of the fetched archive or file (a local chart: of its file list)
    url: str = ""  # where it was fetched from ("" for local files)
    version: str = ""  # chart version
    repository: str = ""  # chart repository or oci:// reference
    input_id: str = ""  # inputs[n] of clusterbuild.yaml, or "" for local charts

    def to_json(self) -> dict[str, Any]:
        out = {"kind": self.kind, "name": self.name, "platform": self.platform, "sha256": self.sha256,
               "url": self.url, "version": self.version, "repository": self.repository,
               "input": self.input_id}
        return {k: v for k, v in out.items() if v}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> InputItem:
        return cls(str(obj["kind"]), str(obj["name"]), str(obj["platform"]), str(obj["sha256"]),
                   str(obj.get("url", "")), str(obj.get("version", "")), str(obj.get("repository", "")),
                   str(obj.get("input", "")))

    @property
    def arch(self) -> str:
        return "" if self.platform == ALL else self.platform.split("/")[1]


@dataclass(frozen=True)
class Inventory:
    app: str
    version: str
    tool_version: str  # clusterbuild's
    platforms: tuple[str, ...]
    image_ref: str  # <registry>/<app>:<version>, the name the cluster image is built under
    images: tuple[ImageItem, ...] = ()
    inputs: tuple[InputItem, ...] = ()
    created: int = 0  # SOURCE_DATE_EPOCH: the only time an SBOM carries

    @property
    def name(self) -> str:
        return f"{self.app}:{self.version}"

    @property
    def charts(self) -> tuple[InputItem, ...]:
        return tuple(i for i in self.inputs if i.kind == "chart")

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app, "version": self.version, "clusterbuild": self.tool_version,
                "platforms": list(self.platforms), "image": self.image_ref, "created": self.created,
                "images": [i.to_json() for i in self.images],
                "inputs": [i.to_json() for i in self.inputs]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Inventory:
        return cls(str(obj["app"]), str(obj["version"]), str(obj["clusterbuild"]),
                   tuple(map(str, obj["platforms"])), str(obj["image"]),
                   tuple(ImageItem.from_json(i) for i in obj["images"]),
                   tuple(InputItem.from_json(i) for i in obj["inputs"]), int(obj.get("created", 0)))


def sorted_inventory(inv: Inventory) -> Inventory:
    return Inventory(inv.app, inv.version, inv.tool_version, tuple(sorted(inv.platforms)), inv.image_ref,
                     tuple(sorted(set(inv.images))), tuple(sorted(set(inv.inputs))), inv.created)
