"""An uncompressed tar layer (a cluster image's ``registry/`` tree) as the blobs inside it
plus a small *skeleton*: the layer's other bytes (tar headers, padding, link files).

    sliced = slice_layer(path)          # read headers only: seeks over file data
    joined = sliced.segments            # ("raw", offset in skeleton, length) | ("blob", digest, size)

Concatenating the segments gives the layer back byte for byte, so a bundle can carry the
skeleton and only the inner blobs a site lacks, and the site rebuilds the layer and checks
its digest. Only members at ``…/blobs/sha256/<2>/<hex>/data`` become blob segments (their
name says their digest; the rebuilt layer's digest proves it).
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from clusterbuild.oci.digest import Digest

_DATA = re.compile(r"(?:^|/)blobs/sha256/[0-9a-f]{2}/(?P<hex>[0-9a-f]{64})/data$")
MIN_SLICE = 512  # smaller files stay in the skeleton


@dataclass(frozen=True)
class Segment:
    kind: str  # "raw" (bytes of the skeleton) or "blob"
    offset: int  # raw: offset in the skeleton; blob: offset in the layer
    size: int
    digest: Digest | None = None  # blob

    def to_json(self) -> list[Any]:
        if self.digest is None:
            return ["raw", self.offset, self.size]
        return ["blob", str(self.digest), self.offset, self.size]

    @classmethod
    def from_json(cls, obj: list[Any]) -> Segment:
        if obj[0] == "raw":
            return cls("raw", int(obj[1]), int(obj[2]))
        return cls("blob", int(obj[2]), int(obj[3]), Digest.parse(str(obj[1])))


@dataclass(frozen=True)
class SlicedLayer:
    layer: Digest
    size: int
    skeleton: Digest
    segments: tuple[Segment, ...]

    @property
    def inner(self) -> dict[Digest, tuple[int, int]]:
        """Inner blob -> (offset in the layer, size)."""
        return {s.digest: (s.offset, s.size) for s in self.segments if s.digest is not None}

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "skeleton": str(self.skeleton),
                "segments": [s.to_json() for s in self.segments]}

    @classmethod
    def from_json(cls, layer: str, obj: dict[str, Any]) -> SlicedLayer:
        return cls(Digest.parse(layer), int(obj["size"]), Digest.parse(str(obj["skeleton"])),
                   tuple(Segment.from_json(s) for s in obj["segments"]))


def inner_blobs(stream: BinaryIO) -> Iterator[tuple[Digest, int, int]]:
    """(digest, offset of its data, size) of every blob file in a tar stream, in order
    (a seekable file is read by headers only)."""
    with tarfile.open(fileobj=stream, mode="r:" if stream.seekable() else "r|") as tar:
        for member in tar:
            match = _DATA.search(member.name)
            if member.isreg() and match and member.size >= MIN_SLICE:
                yield Digest(match.group("hex")), member.offset_data, member.size


def slice_layer(path: Path, layer: Digest) -> tuple[SlicedLayer, bytes]:
    """The slices of the tar at ``path`` and the skeleton's bytes."""
    skeleton = bytearray()
    segments: list[Segment] = []
    size = path.stat().st_size
    with open(path, "rb") as f:
        blobs = list(inner_blobs(f))
        position = 0
        for digest, offset, length in blobs:
            if offset > position:
                f.seek(position)
                segments.append(Segment("raw", len(skeleton), offset - position))
                skeleton += f.read(offset - position)
            segments.append(Segment("blob", offset, length, digest))
            position = offset + length
        if size > position:
            f.seek(position)
            segments.append(Segment("raw", len(skeleton), size - position))
            skeleton += f.read(size - position)
    data = bytes(skeleton)
    return SlicedLayer(layer, size, Digest.of_bytes(data), tuple(segments)), data
