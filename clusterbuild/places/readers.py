"""Reading an image's blobs where it lives: an OCI layout, an oci-archive, a docker-archive,
or the content store (what a registry pull left). Each place is a ``BlobReader``: the refs it
names and a stream per blob, so ``inspect`` reads every place one way."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import InputError
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import REF_NAME, Descriptor, MediaType, to_bytes
from clusterbuild.places.layout import OciLayout


class BlobReader(Protocol):
    where: str  # for messages, e.g. "the layout out/"

    def refs(self) -> dict[str, Descriptor]: ...
    def open(self, digest: Digest) -> IO[bytes]: ...
    def read(self, digest: Digest) -> bytes: ...


class LayoutReader:
    def __init__(self, root: Path) -> None:
        self.layout = OciLayout(root)
        self.where = f"the layout {root}"

    def refs(self) -> dict[str, Descriptor]:
        return self.layout.refs()

    def open(self, digest: Digest) -> IO[bytes]:
        try:
            return self.layout.blob_path(digest).open("rb")
        except FileNotFoundError:
            raise InputError(f"{self.where}: blob {digest} is missing",
                             hint="rebuild it with `clusterbuild apply`") from None

    def read(self, digest: Digest) -> bytes:
        with self.open(digest) as f:
            return f.read()


class StoreReader:
    """Blobs a pull put in the content store, under the root it pulled."""

    def __init__(self, store: BlobStore, ref: str, root: Descriptor) -> None:
        self.store, self._refs, self.where = store, {ref: root}, ref

    def refs(self) -> dict[str, Descriptor]:
        return dict(self._refs)

    def open(self, digest: Digest) -> IO[bytes]:
        return self.store.open(digest)

    def read(self, digest: Digest) -> bytes:
        return self.store.read_bytes(digest)


class ArchiveReader:
    """An oci-archive (index.json + blobs/sha256/) or a docker-archive (manifest.json), read
    in place: a docker-archive's manifests and configs are made into OCI ones in memory."""

    def __init__(self, path: Path, tar: tarfile.TarFile) -> None:
        self.where = f"the archive {path}"
        self._tar = tar
        self._members = {m.name.removeprefix("./"): m for m in self._tar.getmembers() if m.isfile()}
        self._made: dict[Digest, bytes] = {}
        self._files: dict[Digest, str] = {}
        if "index.json" in self._members:
            self._refs = self._oci_refs()
        elif "manifest.json" in self._members:
            self._refs = self._docker_refs()
        else:
            raise InputError(f"{path}: neither index.json nor manifest.json inside",
                             hint="give an oci-archive or docker-archive .tar")

    def _member(self, name: str) -> bytes:
        extracted = self._tar.extractfile(self._members[name])
        assert extracted is not None
        return extracted.read()

    def _oci_refs(self) -> dict[str, Descriptor]:
        index = json.loads(self._member("index.json"))
        out = {}
        for i, entry in enumerate(index.get("manifests", [])):
            desc = Descriptor.from_json(entry)
            out[dict(desc.annotations).get(REF_NAME, "") or f"#{i}"] = desc
        return out

    def _docker_refs(self) -> dict[str, Descriptor]:
        out = {}
        for i, entry in enumerate(json.loads(self._member("manifest.json"))):
            config = self._member(entry["Config"])
            self._keep(config)
            layers = []
            for name in entry["Layers"]:
                member = self._members[name]
                digest = self._layer_digest(name)
                self._files[digest] = name
                layers.append({"mediaType": MediaType.LAYER_TAR.value, "digest": str(digest),
                               "size": member.size})
            manifest = to_bytes({"schemaVersion": 2, "mediaType": MediaType.MANIFEST.value,
                                 "config": {"mediaType": MediaType.CONFIG.value,
                                            "digest": str(Digest.of_bytes(config)),
                                            "size": len(config)}, "layers": layers})
            desc = Descriptor(MediaType.MANIFEST.value, self._keep(manifest), len(manifest))
            for tag in entry.get("RepoTags") or [f"#{i}"]:
                out[tag] = desc
        return out

    def _keep(self, data: bytes) -> Digest:
        """Hold a blob made in memory (a docker-archive's config or OCI manifest)."""
        digest = Digest.of_bytes(data)
        self._made[digest] = data
        return digest

    def _layer_digest(self, name: str) -> Digest:
        hasher = hashlib.sha256()
        extracted = self._tar.extractfile(self._members[name])
        assert extracted is not None
        while chunk := extracted.read(1 << 20):
            hasher.update(chunk)
        return Digest.parse(f"sha256:{hasher.hexdigest()}")

    def refs(self) -> dict[str, Descriptor]:
        return dict(self._refs)

    def open(self, digest: Digest) -> IO[bytes]:
        if digest in self._made:
            return io.BytesIO(self._made[digest])
        name = self._files.get(digest, f"blobs/sha256/{digest.hex}")
        if name not in self._members:
            raise InputError(f"{self.where}: blob {digest} is missing", hint="write the archive again")
        extracted = self._tar.extractfile(self._members[name])
        assert extracted is not None
        return extracted

    def read(self, digest: Digest) -> bytes:
        with self.open(digest) as f:
            return f.read()


@contextmanager
def archive_reader(path: Path) -> Iterator[ArchiveReader]:
    try:
        tar = tarfile.open(path)  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        problem = str(exc).splitlines()[0].rstrip(":") if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a readable archive ({problem})",
                         hint="give an oci-archive or docker-archive .tar") from None
    with tar:
        yield ArchiveReader(path, tar)
