"""The air-gapped side of a bundle: an OCI layout directory or a registry, with every blob it
holds — the blobs themselves and the blobs inside its cluster images' ``registry/`` layers
(found by reading those layers' tar headers) — so that a delta bundle's layers can be
rebuilt from what the site has, and its images written there."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.oci.reference import Reference
from clusterbuild.places.bundle import iter_file
from clusterbuild.places.layer_slices import inner_blobs
from clusterbuild.places.layout import OciLayout
from clusterbuild.places.registry import RegistryClient

_INDEXES = {MediaType.INDEX.value, MediaType.DOCKER_LIST.value}
_MANIFESTS = _INDEXES | {MediaType.MANIFEST.value, MediaType.DOCKER_MANIFEST.value}


@dataclass(frozen=True)
class Inner:
    where: str  # the repository (a registry site) or "" (a layout)
    layer: Digest
    offset: int
    size: int


class _IterStream(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.rest = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.rest:
            self.rest = next(self.chunks, b"")
            if not self.rest:
                return 0
        n = min(len(buffer), len(self.rest))
        buffer[:n], self.rest = self.rest[:n], self.rest[n:]
        return n


def children(data: bytes) -> list[Descriptor]:
    doc = json.loads(data)
    found = [Descriptor.from_json(m) for m in doc.get("manifests", [])]
    if "config" in doc:
        found.append(Descriptor.from_json(doc["config"]))
    return found + [Descriptor.from_json(layer) for layer in doc.get("layers", [])]


class Site:
    """What a site holds: ``top`` blobs (digest -> where) and ``inner`` blobs of registry/ layers."""

    def __init__(self) -> None:
        self.top: dict[Digest, str] = {}
        self.inner: dict[Digest, Inner] = {}
        self.scanned = False

    def digests(self) -> set[Digest]:
        self.scan()
        return set(self.top) | set(self.inner)

    def has(self, digest: Digest) -> bool:
        self.scan()
        return digest in self.top or digest in self.inner

    def scan(self) -> None:
        if not self.scanned:
            self.scanned = True
            self._scan()

    def _walk(self, roots: Iterable[tuple[str, Descriptor]]) -> None:
        stack = list(roots)
        while stack:
            where, desc = stack.pop()
            if desc.digest in self.top:
                continue
            self.top[desc.digest] = where
            if desc.media_type in _MANIFESTS:
                stack += [(where, child) for child in children(self.manifest(desc.digest))]
            elif desc.media_type == MediaType.LAYER_TAR.value:
                stream = io.BufferedReader(_IterStream(self.read(desc.digest)), 1 << 20)
                for digest, offset, size in inner_blobs(stream):
                    self.inner.setdefault(digest, Inner(where, desc.digest, offset, size))

    def read(self, digest: Digest) -> Iterator[bytes]:
        """A blob of the site, or one inside a registry/ layer of it."""
        raise NotImplementedError

    def manifest(self, digest: Digest) -> bytes:
        return b"".join(self.read(digest))

    def _scan(self) -> None:
        raise NotImplementedError


class LayoutSite(Site):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.layout = OciLayout(root)

    def __str__(self) -> str:
        return str(self.layout.root)

    def _scan(self) -> None:
        self._walk(("", d) for d in self.layout.read_index().manifests)
        if self.layout.blobs.is_dir():
            for path in self.layout.blobs.iterdir():
                if len(path.name) == 64:
                    self.top.setdefault(Digest(path.name), "")

    def read(self, digest: Digest) -> Iterator[bytes]:
        path = self.layout.blob_path(digest)
        if path.is_file():
            return iter_file(path, 0, path.stat().st_size)
        inner = self.inner[digest]
        return iter_file(self.layout.blob_path(inner.layer), inner.offset, inner.size)

    def write(self, refs: dict[str, Descriptor], blobs: Iterable[Digest], store: BlobStore) -> list[str]:
        for digest in blobs:
            if not self.layout.blob_path(digest).is_file():
                self.layout.put_blob(store, digest)
        self.layout.set_refs(refs)
        return sorted(refs)


class RegistrySite(Site):
    """A registry (``host``, or ``host/prefix``: images land under ``prefix/<name>:<tag>``)."""

    def __init__(self, client: RegistryClient, target: str) -> None:
        super().__init__()
        self.client, self.target = client, target.rstrip("/")
        self.host = self.target.split("/", 1)[0]

    def __str__(self) -> str:
        return self.target

    def _ref(self, repository: str) -> Reference:
        return Reference(self.host, repository, "latest")

    def _scan(self) -> None:
        for repository in self.client.repositories(self.host):
            ref = self._ref(repository)
            for tag in self.client.tags(ref):
                resolved = self.client.resolve(Reference(self.host, repository, tag))
                self._walk([(repository, resolved.descriptor)])
        for digest, repository in self.top.items():
            self.client.seen_blob(self.host, digest, repository)

    def manifest(self, digest: Digest) -> bytes:
        """Manifests are read as manifests (distribution serves no blob GET for them)."""
        return self.client.resolve(Reference(self.host, self.top[digest], "", digest)).data

    def read(self, digest: Digest) -> Iterator[bytes]:
        if digest in self.top:
            return self.client.read_blob(self._ref(self.top[digest]), digest)
        inner = self.inner[digest]
        return self.client.read_blob(self._ref(inner.where), inner.layer, inner.offset, inner.size)

    def destination(self, name: str) -> Reference:
        ref = Reference.parse(name)
        if "/" in self.target:
            return Reference.parse(f"{self.target}/{ref.repository.rsplit('/', 1)[-1]}:{ref.tag}")
        return Reference(self.host, ref.repository, ref.tag)

    def write(self, refs: dict[str, Descriptor], blobs: Iterable[Digest], store: BlobStore) -> list[str]:
        present = frozenset(d for d in self.top if not store.has(d))
        pushed = []
        for name, root in sorted(refs.items(), key=lambda r: r[1].media_type in _INDEXES):
            target = self.destination(name)
            self.client.push(target, root, store, present)
            pushed.append(str(target))
        return pushed


def is_registry(target: str) -> bool:
    """``host[:port][/prefix]`` whose host has a '.' or ':' or is localhost, and no directory."""
    if target.startswith((".", "/", "~")) or Path(target).is_dir():
        return False
    host = target.split("/", 1)[0]
    return "." in host or ":" in host or host == "localhost"


def open_site(target: str, client: RegistryClient | None) -> LayoutSite | RegistrySite:
    """A directory path (``./x``, ``/x``, an existing dir) is a layout; else a registry."""
    if not is_registry(target) or client is None:
        return LayoutSite(Path(target).expanduser())
    return RegistrySite(client, target)


def as_stream(chunks: Iterator[bytes]) -> BinaryIO:
    return io.BufferedReader(_IterStream(chunks), 1 << 20)
