"""What an image's layers hold: files by top-level directory, and the images of the
``registry/`` tree (docker/distribution storage) with platform, digest and size.

Layers are read as streams (gzip or plain tar); a registry/ tree's small blobs (manifests,
configs) are kept in memory to read platforms and sizes, large ones only counted."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

TREE = "registry/docker/registry/v2/"
_SMALL = 4 << 20  # manifests and configs are far smaller
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json")


@dataclass(frozen=True)
class TopLevel:
    name: str  # "charts/", "manifests/", "Kubefile"
    files: int
    size: int


@dataclass(frozen=True)
class TreeImage:
    reference: str  # repository:tag as stored (no registry host), e.g. library/nginx:1.25
    platform: str  # os/arch[/variant], or "index" for a whole stored index
    digest: str
    size: int  # manifest + config + layers


@dataclass
class LayerContents:
    """What every layer of one image holds, read in layer order."""

    tops: dict[str, list[int]] = field(default_factory=dict)  # name -> [files, bytes]
    blob_sizes: dict[str, int] = field(default_factory=dict)  # hex -> size
    small_blobs: dict[str, bytes] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # repo:tag -> sha256:hex
    sboms: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # media types not read

    def read_layer(self, stream: IO[bytes], media_type: str) -> None:
        if "zstd" in media_type:
            import zstandard  # only zstd layers need it

            stream = zstandard.ZstdDecompressor().stream_reader(stream)
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                if member.isfile():
                    self._file(member, tar)

    def _file(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        path = member.name.removeprefix("./")
        if path.rpartition("/")[2].startswith(".wh."):
            return
        top, slash, _ = path.partition("/")
        counts = self.tops.setdefault(top + slash, [0, 0])
        counts[0] += 1
        counts[1] += member.size
        if path.endswith((".spdx.json", ".cdx.json", ".spdx")) or "sbom" in path.lower():
            self.sboms.append(path)
        if path.startswith(TREE):
            self._tree_file(path[len(TREE):], member, tar)

    def _tree_file(self, rel: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        parts = rel.split("/")
        if parts[0] == "blobs" and len(parts) == 5 and parts[4] == "data":
            self.blob_sizes[parts[3]] = member.size
            if member.size <= _SMALL:
                self.small_blobs[parts[3]] = _read(tar, member)
        elif parts[0] == "repositories" and rel.endswith("/current/link") and "/_manifests/tags/" in rel:
            repo, _, rest = rel[len("repositories/"):].partition("/_manifests/tags/")
            tag = rest.removesuffix("/current/link")
            self.tags[f"{repo}:{tag}"] = _read(tar, member).decode().strip()

    def top_levels(self) -> list[TopLevel]:
        return [TopLevel(name, files, size) for name, (files, size) in sorted(self.tops.items())]

    def tree_images(self) -> list[TreeImage]:
        out = []
        for reference, digest in sorted(self.tags.items()):
            doc = self._json(digest)
            if doc is not None and doc.get("mediaType") in _INDEX_TYPES:
                children = [m for m in doc.get("manifests", []) if self._json(m["digest"]) is not None]
                out += [TreeImage(reference, _platform_of(m.get("platform", {})), m["digest"],
                                  self._image_size(m["digest"])) for m in children]
                out.append(TreeImage(reference, "index", digest, self._blob_size(digest)))
            else:
                out.append(TreeImage(reference, self._config_platform(doc), digest,
                                     self._image_size(digest)))
        return out

    def _json(self, digest: str) -> dict[str, Any] | None:
        data = self.small_blobs.get(digest.removeprefix("sha256:"))
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    def _blob_size(self, digest: str) -> int:
        return self.blob_sizes.get(digest.removeprefix("sha256:"), 0)

    def _image_size(self, digest: str) -> int:
        doc = self._json(digest) or {}
        parts: Iterable[dict[str, Any]] = [doc.get("config") or {}, *doc.get("layers", [])]
        return self._blob_size(digest) + sum(int(p.get("size", 0)) for p in parts)

    def _config_platform(self, manifest: dict[str, Any] | None) -> str:
        config = self._json((manifest or {}).get("config", {}).get("digest", ""))
        return _platform_of(config or {})


def _platform_of(obj: dict[str, Any]) -> str:
    parts = [obj.get("os", ""), obj.get("architecture", ""), obj.get("variant", "")]
    return "/".join(p for p in parts if p) or "unknown"


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    extracted = tar.extractfile(member)
    return extracted.read() if extracted is not None else b""
