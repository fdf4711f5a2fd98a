"""An OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/sha256``).

Blobs are hard-linked from the content store when on the same filesystem,
copied otherwise; every write is temp file + rename, so an interrupted export
leaves the previous layout intact.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import REF_NAME, Descriptor, Index, MediaType, to_bytes

if TYPE_CHECKING:
    from clusterbuild.cache.store import BlobStore

LAYOUT_MARKER = b'{"imageLayoutVersion":"1.0.0"}'
_INDEX_LOCK = threading.Lock()
_CHILD_TYPES = {MediaType.INDEX.value, MediaType.MANIFEST.value,
                MediaType.DOCKER_LIST.value, MediaType.DOCKER_MANIFEST.value}


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class OciLayout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self._refs: tuple[tuple[int, ...], dict[str, Descriptor]] | None = None
        self._names: tuple[int, frozenset[str]] | None = None  # blob names, by the dir's mtime
        self._children: dict[Digest, list[Descriptor]] = {}  # blobs are immutable: parse once

    def blob_path(self, digest: Digest) -> Path:
        return self.blobs / digest.hex

    def has_blob(self, digest: Digest, size: int | None = None) -> bool:
        try:
            st = self.blob_path(digest).stat()
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def put_blob(self, store: BlobStore, digest: Digest) -> None:
        """Place the store's blob here (hard link, else copy; a held blob's range is copied:
        ``BlobStore.locate``), if missing."""
        target = self.blob_path(digest)
        if target.exists():
            return
        self.blobs.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{digest.hex}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            try:
                os.link(store.path(digest), tmp)
            except FileNotFoundError:  # held (or held just now by a concurrent run): copy its bytes
                with store.open(digest) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            except OSError:  # another filesystem
                shutil.copyfile(store.path(digest), tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def read_index(self) -> Index:
        try:
            return Index.from_json(json.loads((self.root / "index.json").read_bytes()))
        except FileNotFoundError:
            return Index(())

    def _blob_names(self) -> frozenset[str]:
        """The names in blobs/sha256, listed again when the directory changed: one listing
        instead of a stat per blob when many exports are assessed. A name missing here is
        still looked up (a blob added within the mtime's granularity)."""
        try:
            stamp = self.blobs.stat().st_mtime_ns
        except FileNotFoundError:
            return frozenset()
        if self._names is None or self._names[0] != stamp:
            self._names = (stamp, frozenset(os.listdir(self.blobs)))
        return self._names[1]

    def refs(self) -> dict[str, Descriptor]:
        """Ref name -> descriptor (a copy); see ``ref``."""
        return dict(self._ref_map())

    def ref(self, name: str) -> Descriptor | None:
        return self._ref_map().get(name)

    def _ref_map(self) -> dict[str, Descriptor]:
        """Ref name -> descriptor; index.json is parsed again only when it changed."""
        try:
            st = (self.root / "index.json").stat()
            stamp: tuple[int, ...] = (st.st_size, st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            stamp = ()
        if self._refs is None or self._refs[0] != stamp:
            refs = {dict(d.annotations).get(REF_NAME, ""): d for d in self.read_index().manifests}
            self._refs = (stamp, refs)
        return self._refs[1]

    def set_refs(self, refs: dict[str, Descriptor]) -> None:
        """Point each ref name at its descriptor, keeping the other refs."""
        with _INDEX_LOCK:
            current = self.refs()
            current.update({name: d.with_annotations(**{REF_NAME: name}) for name, d in refs.items()})
            ordered = tuple(current[name] for name in sorted(current))
            write_atomic(self.root / "oci-layout", LAYOUT_MARKER)
            write_atomic(self.root / "index.json", to_bytes(Index(ordered).to_json()))

    def reachable(self, roots: Iterable[Descriptor]) -> Iterator[Digest]:
        """Every blob digest reachable from ``roots`` (manifests, configs, layers)."""
        names = self._blob_names()
        stack = list(roots)
        while stack:
            desc = stack.pop()
            yield desc.digest
            if desc.media_type in _CHILD_TYPES and (desc.digest.hex in names or self.has_blob(desc.digest)):
                stack += self._children_of(desc.digest)

    def complete(self, roots: Iterable[Descriptor]) -> bool:
        """Is every blob reachable from ``roots`` here?"""
        names = self._blob_names()
        return all(d.hex in names or self.has_blob(d) for d in self.reachable(roots))

    def has_blobs(self, hexes: Iterable[str]) -> bool:
        """Are the blobs of these digests (hex) all here?"""
        names = self._blob_names()
        return all(h in names or self.has_blob(Digest(h)) for h in hexes)

    def _children_of(self, digest: Digest) -> list[Descriptor]:
        if digest not in self._children:
            self._children[digest] = _children(json.loads(self.blob_path(digest).read_bytes()))
        return self._children[digest]

    def prune(self) -> int:
        """Remove blobs no ref reaches; return how many."""
        with _INDEX_LOCK:
            keep = {d.hex for d in self.reachable(self.read_index().manifests)}
            removed = 0
            if self.blobs.is_dir():
                for entry in os.scandir(self.blobs):
                    if entry.name not in keep:
                        os.unlink(entry.path)
                        removed += 1
            return removed


def _children(doc: dict[str, Any]) -> list[Descriptor]:
    found = [Descriptor.from_json(m) for m in doc.get("manifests", [])]
    if "config" in doc:
        found.append(Descriptor.from_json(doc["config"]))
    found += [Descriptor.from_json(layer) for layer in doc.get("layers", [])]
    return found


class RefBatch:
    """Ref changes of many exports, written to each layout's index.json once (``flush``):
    rewriting the whole index per app version made a catalogue build quadratic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[Path, dict[str, Descriptor]] = {}

    def add(self, root: Path, refs: dict[str, Descriptor]) -> None:
        with self._lock:
            self._pending.setdefault(root, {}).update(refs)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for root, refs in pending.items():
            OciLayout(root).set_refs(refs)
