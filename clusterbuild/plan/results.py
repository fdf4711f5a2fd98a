"""What each kind of step produced: one frozen type per step kind, one JSON codec.

Runners return these values and hand them to the steps that consume them; the cache
stores ``encode(result)`` under the step's key. Every encoded result carries ``blobs``,
the store blobs it needs (what ``cache gc`` keeps alive; a pull's ``left`` too: the large
layers it leaves for the registry step, which fetches them straight into its layer), so the
cache can be collected without decoding. A record that does not decode (an older or damaged cache) is
``UndecodableResult``: the step is stale and runs again.

    kind       type             consumed by
    layer      LayerResult      image
    registry   LayerResult      image (the registry/ tree, stored uncompressed)
    image      ImageResult      index, export, push
    index      IndexResult      export, push
    export     ExportResult     (the layout; apply's summary)
    scan       ScanResult       pull steps are planned from it
    pull       PullResult       registry
    fetch      FetchResult      unpack
    unpack     FilesResult      the build context of each platform
    script     FilesResult      likewise, for init.sh apps
    push       PushResult       (the summary)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.filetree import FileEntry
from clusterbuild.oci.model import Descriptor
from clusterbuild.oci.stored import StoredImage


class UndecodableResult(ValueError):
    """A cache record that is not a result of its step kind."""


@dataclass(frozen=True)
class LayerResult:
    layer: Descriptor
    diff_id: Digest
    diff_size: int  # uncompressed size (docker-archive needs it)
    referenced: tuple[Digest, ...] = ()  # registry/ layers: the pulled blobs inside the tar

    @property
    def blobs(self) -> tuple[Digest, ...]:
        return (self.layer.digest, *self.referenced)

    def to_json(self) -> dict[str, Any]:
        return {"layer": self.layer.to_json(), "diff_id": str(self.diff_id),
                "diff_size": self.diff_size, "blobs": [str(d) for d in self.blobs]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> LayerResult:
        layer = Descriptor.from_json(obj["layer"])
        referenced = tuple(Digest.parse(b) for b in obj.get("blobs", [])[1:])
        return cls(layer, Digest.parse(obj["diff_id"]), int(obj["diff_size"]), referenced)

    def unpacked(self) -> dict[str, Any]:
        return {"layer": self.layer.to_json(), "diff_id": str(self.diff_id), "diff_size": self.diff_size}


@dataclass(frozen=True)
class ImageResult:
    manifest: Descriptor  # with the image's platform
    config: Descriptor
    layers: tuple[LayerResult, ...]  # without what a registry/ layer references

    @property
    def blobs(self) -> tuple[Digest, ...]:
        return (self.manifest.digest, self.config.digest, *(layer.layer.digest for layer in self.layers))

    def to_json(self) -> dict[str, Any]:
        return {"manifest": self.manifest.to_json(), "config": self.config.to_json(),
                "layers": [layer.unpacked() for layer in self.layers],
                "blobs": [str(d) for d in self.blobs]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ImageResult:
        layers = tuple(LayerResult(Descriptor.from_json(x["layer"]), Digest.parse(x["diff_id"]),
                                   int(x["diff_size"])) for x in obj["layers"])
        return cls(Descriptor.from_json(obj["manifest"]), Descriptor.from_json(obj["config"]), layers)


@dataclass(frozen=True)
class IndexResult:
    index: Descriptor
    members: tuple[Digest, ...]  # every blob of the index's images

    @property
    def blobs(self) -> tuple[Digest, ...]:
        return (self.index.digest, *self.members)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index.to_json(), "blobs": [str(d) for d in self.blobs]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> IndexResult:
        return cls(Descriptor.from_json(obj["index"]), tuple(Digest.parse(b) for b in obj["blobs"][1:]))


@dataclass(frozen=True)
class ExportResult:
    refs: tuple[tuple[str, Descriptor], ...]  # ref name -> what it points at in the layout
    files: tuple[tuple[str, int], ...] = ()  # archive written (workspace-relative) -> size
    placed: tuple[str, ...] | None = None  # hex of every blob put in the layout (None: not recorded)

    blobs: tuple[Digest, ...] = ()

    def to_json(self) -> dict[str, Any]:
        placed = {"placed": list(self.placed)} if self.placed is not None else {}
        return {"refs": {name: d.to_json() for name, d in self.refs}, "files": dict(self.files),
                **placed, "blobs": []}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ExportResult:
        refs = tuple((str(name), Descriptor.from_json(d)) for name, d in obj["refs"].items())
        placed = tuple(map(str, obj["placed"])) if isinstance(obj.get("placed"), list) else None
        return cls(refs, tuple((str(name), int(size)) for name, size in obj["files"].items()), placed)


@dataclass(frozen=True)
class ShippedImage:
    reference: str  # normalised, as stored under its tag
    sources: tuple[str, ...]  # where it was found

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "sources": list(self.sources)}


@dataclass(frozen=True)
class ScanResult:
    images: tuple[ShippedImage, ...]
    warnings: tuple[str, ...] = ()  # e.g. a value profile that does not render

    blobs: tuple[Digest, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"images": [i.to_json() for i in self.images], "warnings": list(self.warnings),
                "blobs": []}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ScanResult:
        images = tuple(ShippedImage(str(i["reference"]), tuple(map(str, i["sources"])))
                       for i in obj["images"])
        return cls(images, tuple(map(str, obj.get("warnings", []))))


@dataclass(frozen=True)
class PullResult:
    image: StoredImage
    root: Digest  # what the reference resolved to (index or manifest): apps.lock pins it
    # large layers left in the registry: the registry step that ships the image fetches each
    # straight into its layer (``execute.registry``), so they are not this step's blobs
    left: tuple[Digest, ...] = ()

    @property
    def blobs(self) -> tuple[Digest, ...]:
        left = set(self.left)
        return tuple(dict.fromkeys(d.digest for d in (*self.image.manifests, *self.image.blobs)
                                   if d.digest not in left))

    def to_json(self) -> dict[str, Any]:
        out = {"image": self.image.to_json(), "root": str(self.root),
               "blobs": [str(d) for d in self.blobs]}
        if self.left:
            out["left"] = [str(d) for d in self.left]
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PullResult:
        return cls(StoredImage.from_json(obj["image"]), Digest.parse(obj["root"]),
                   tuple(Digest.parse(d) for d in obj.get("left", ())))


@dataclass(frozen=True)
class FetchResult:
    blob: Digest

    @property
    def blobs(self) -> tuple[Digest, ...]:
        return (self.blob,)

    def to_json(self) -> dict[str, Any]:
        return {"blob": str(self.blob), "blobs": [str(self.blob)]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FetchResult:
        return cls(Digest.parse(obj["blob"]))


@dataclass(frozen=True)
class FilesResult:
    """Files placed in a build context: an unpacked input, or what an init.sh left."""

    entries: tuple[FileEntry, ...]
    log: str = ""  # init.sh: where its output was kept

    @property
    def blobs(self) -> tuple[Digest, ...]:
        return tuple(sorted({e.digest for e in self.entries if e.digest is not None}, key=str))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"entries": [e.to_json() for e in self.entries],
                               "blobs": [str(d) for d in self.blobs]}
        if self.log:
            out["log"] = self.log
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FilesResult:
        return cls(tuple(FileEntry.from_json(e) for e in obj["entries"]), str(obj.get("log", "")))


@dataclass(frozen=True)
class PushResult:
    pushed: tuple[tuple[str, Digest], ...]  # remote ref -> the digest the registry stored

    blobs: tuple[Digest, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"pushed": {ref: str(d) for ref, d in self.pushed}, "blobs": []}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PushResult:
        return cls(tuple((str(ref), Digest.parse(d)) for ref, d in obj["pushed"].items()))


StepResult = (LayerResult | ImageResult | IndexResult | ExportResult | ScanResult | PullResult
              | FetchResult | FilesResult | PushResult)

_DECODERS: dict[str, Callable[[dict[str, Any]], StepResult]] = {
    "layer": LayerResult.from_json, "registry": LayerResult.from_json,
    "image": ImageResult.from_json, "index": IndexResult.from_json,
    "export": ExportResult.from_json, "scan": ScanResult.from_json, "pull": PullResult.from_json,
    "chart": PullResult.from_json,
    "fetch": FetchResult.from_json, "unpack": FilesResult.from_json,
    "script": FilesResult.from_json, "push": PushResult.from_json,
}


def encode(result: StepResult) -> dict[str, Any]:
    return result.to_json()


def decode(kind: str, obj: object) -> StepResult:
    """The result of a ``kind`` step from its record; UndecodableResult when it is not one."""
    decoder = _DECODERS.get(kind)
    if decoder is None or not isinstance(obj, dict):
        raise UndecodableResult(f"no {kind} result")
    try:
        return decoder(obj)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise UndecodableResult(f"{kind} record: {type(exc).__name__}: {exc}") from None
