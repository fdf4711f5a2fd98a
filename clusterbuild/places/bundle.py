"""Air-gap bundles: an OCI image layout in one tar (optionally zstd, optionally split into
parts), each blob once, led by a manifest of its contents.

    clusterbuild-bundle.json   what it holds: refs, every blob carried (digest, size), the
                               blobs it leaves out (the site has them), and the registry/
                               layers it carries as a skeleton plus their inner blobs
    oci-layout, index.json     the layout's marker and its refs
    blobs/sha256/<hex>         each blob carried, sorted

Written once, streamed (never held in memory); split parts are ``FILE.000``, ``FILE.001`` …
(concatenated in order on the way back). ``read_bundle`` verifies every blob while streaming
it into the content store and refuses a bundle with anything unlisted, altered, or missing,
naming it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import InputError
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import REF_NAME, Descriptor, Index, to_bytes
from clusterbuild.places.layer_slices import SlicedLayer
from clusterbuild.places.layout import LAYOUT_MARKER

CONTENTS = "clusterbuild-bundle.json"
FORMAT = 1
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20

Opener = Callable[[], BinaryIO]  # a stream of exactly the blob's bytes


class BundleError(InputError):
    """A bundle that is not whole: truncated, altered, or missing a blob (exit 3)."""


@dataclass(frozen=True)
class Carried:
    digest: Digest
    size: int
    open: Opener = field(compare=False, repr=False)


@dataclass(frozen=True)
class Contents:
    refs: tuple[tuple[str, Descriptor], ...]
    blobs: tuple[tuple[Digest, int], ...]  # carried
    omitted: tuple[Digest, ...] = ()  # needed, not carried: the site has them
    layers: tuple[SlicedLayer, ...] = ()  # registry/ layers carried as skeleton + inner blobs

    def to_json(self) -> dict[str, Any]:
        return {"clusterbuild_bundle": FORMAT,
                "refs": {name: d.to_json() for name, d in self.refs},
                "blobs": {str(d): size for d, size in self.blobs},
                "omitted": [str(d) for d in self.omitted],
                "layers": {str(s.layer): s.to_json() for s in self.layers}}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Contents:
        if obj.get("clusterbuild_bundle") != FORMAT:
            raise ValueError(f"bundle format {obj.get('clusterbuild_bundle')!r}, expected {FORMAT}")
        return cls(tuple((str(n), Descriptor.from_json(d)) for n, d in obj["refs"].items()),
                   tuple((Digest.parse(d), int(s)) for d, s in obj["blobs"].items()),
                   tuple(Digest.parse(d) for d in obj.get("omitted", [])),
                   tuple(SlicedLayer.from_json(k, v) for k, v in obj.get("layers", {}).items()))

    @property
    def every_blob(self) -> set[Digest]:
        """What a site has once this bundle is unpacked: carried, omitted, rebuilt layers and
        the blobs inside them."""
        out = {d for d, _ in self.blobs} | set(self.omitted)
        for sliced in self.layers:
            out |= {sliced.layer, *sliced.inner}
        return out


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.uid, info.gid = size, 0o644, 0, 0, 0
    return info


class _Parts(io.RawIOBase):
    """A write-only stream into ``path`` or, with ``split``, ``path.000``, ``path.001`` … of at
    most ``split`` bytes each; temp names until ``commit``."""

    def __init__(self, path: Path, split: int | None) -> None:
        self.path, self.split = path, split
        self.names: list[Path] = []
        self._file: BinaryIO | None = None
        self._left = 0

    def writable(self) -> bool:
        return True

    def _next(self) -> None:
        if self._file is not None:
            self._file.close()
        final = self.path if self.split is None else \
            self.path.with_name(f"{self.path.name}.{len(self.names):03d}")
        self.names.append(final)
        self._file = open(final.with_name(f".{final.name}.tmp"), "wb")  # noqa: SIM115 (closed by _next)
        self._left = self.split or -1

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            if self._file is None or self._left == 0:
                self._next()
            assert self._file is not None
            n = len(view) - done if self._left < 0 else min(self._left, len(view) - done)
            self._file.write(view[done:done + n])
            done += n
            if self._left > 0:
                self._left -= n
        return done

    def commit(self) -> list[Path]:
        if self._file is not None:
            self._file.close()
        for final in self.names:
            os.replace(final.with_name(f".{final.name}.tmp"), final)
        return self.names

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        for final in self.names:
            final.with_name(f".{final.name}.tmp").unlink(missing_ok=True)


class _Checked(io.RawIOBase):
    """Reads ``size`` bytes of a blob and checks they hash to its digest at the end."""

    def __init__(self, blob: Carried) -> None:
        self.blob, self.src, self.hash, self.left = blob, blob.open(), hashlib.sha256(), blob.size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self.src.read(self.left if n < 0 else min(n, self.left))
        self.hash.update(data)
        self.left -= len(data)
        if not self.left and Digest(self.hash.hexdigest()) != self.blob.digest:
            raise InputError(f"blob {self.blob.digest}: its source changed or is damaged "
                             f"(hashes to sha256:{self.hash.hexdigest()})", hint="run apply again")
        return data

    def close(self) -> None:
        self.src.close()
        super().close()


def write_bundle(path: Path, contents: Contents, carried: Sequence[Carried], zstd: bool = False,
                 split: int | None = None) -> list[Path]:
    """Write the bundle; the files written (one, or the split parts)."""
    parts = _Parts(path, split)
    try:
        sink: Any = parts
        compressor: Any = None
        if zstd:
            import zstandard

            compressor = zstandard.ZstdCompressor(level=3, threads=-1).stream_writer(sink, closefd=False)
            sink = compressor
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name, data in _leading(contents):
                tar.addfile(_info(name, len(data)), io.BytesIO(data))
            for blob in sorted(carried, key=lambda b: b.digest):
                with _Checked(blob) as stream:
                    tar.addfile(_info(f"blobs/sha256/{blob.digest.hex}", blob.size), stream)
        if compressor is not None:
            compressor.close()
        return parts.commit()
    except BaseException:
        parts.discard()
        raise


def _leading(contents: Contents) -> list[tuple[str, bytes]]:
    refs = tuple(d.with_annotations(**{REF_NAME: name}) for name, d in sorted(contents.refs))
    return [(CONTENTS, json.dumps(contents.to_json(), indent=1, sort_keys=True).encode()),
            ("oci-layout", LAYOUT_MARKER), ("index.json", to_bytes(Index(refs).to_json()))]


class _Chain(io.RawIOBase):
    """The files of a (split) bundle read as one stream; counts the bytes read."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths, self.position = list(paths), 0
        self._file: Any = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self.paths or self._file is not None:
            if self._file is None:
                self._file = open(self.paths.pop(0), "rb")  # noqa: SIM115 (closed at its end)
            n = int(self._file.readinto(buffer))
            if n:
                self.position += n
                return n
            self._file.close()
            self._file = None
        return 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        super().close()


def _opened(paths: Sequence[Path]) -> tuple[_Chain, BinaryIO]:
    for path in paths:
        if not path.is_file():
            raise BundleError(f"{path}: no such bundle file", hint="name every part, in order")
    chain = _Chain(paths)
    buffered = io.BufferedReader(chain, CHUNK)
    if buffered.peek(4)[:4] == ZSTD_MAGIC:
        import zstandard

        return chain, zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)
    return chain, buffered


def read_contents(paths: Sequence[Path]) -> Contents:
    """Only the leading manifest of contents (an earlier bundle given to ``--have``)."""
    chain, stream = _opened(paths)
    with chain, stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        return _contents(paths[0], tar, next(iter(tar), None))


def _contents(path: Path, tar: tarfile.TarFile, first: tarfile.TarInfo | None) -> Contents:
    if first is None or first.name != CONTENTS:
        raise BundleError(f"{path}: not a clusterbuild bundle (it does not start with {CONTENTS})")
    extracted = tar.extractfile(first)
    try:
        assert extracted is not None
        return Contents.from_json(json.loads(extracted.read()))
    except (AssertionError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{path}: {CONTENTS} is unreadable ({exc})") from None


def read_bundle(paths: Sequence[Path], store: BlobStore) -> Contents:
    """Stream every blob of the bundle into ``store``, each verified against its digest;
    the contents, once every listed blob arrived whole."""
    chain, stream = _opened(paths)
    name = paths[0] if len(paths) == 1 else f"{paths[0]}…{paths[-1].name}"
    try:
        with chain, stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            members = iter(tar)
            contents = _contents(paths[0], tar, next(members, None))
            expected = dict(contents.blobs)
            seen: set[Digest] = set()
            for member in members:
                _receive(name, tar, member, expected, store)
                if member.name.startswith("blobs/"):
                    seen.add(Digest(member.name.rsplit("/", 1)[1]))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BundleError(f"{name}: truncated or damaged after {chain.position} bytes ({exc})",
                          hint="copy the bundle (every part) again") from None
    except _ZstdError as exc:
        raise BundleError(f"{name}: damaged zstd stream ({exc})", hint="copy the bundle again") from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise BundleError(f"{name}: missing blob {missing[0]} ({expected[missing[0]]} bytes)"
                          + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""),
                          hint="the bundle is truncated: copy it (every part) again")
    return contents


try:
    from zstandard import ZstdError as _ZstdError
except ImportError:  # pragma: no cover - zstandard is a dependency
    class _ZstdError(Exception):  # type: ignore[no-redef]
        pass


def _receive(name: object, tar: tarfile.TarFile, member: tarfile.TarInfo, expected: dict[Digest, int],
             store: BlobStore) -> None:
    if member.name in ("oci-layout", "index.json"):
        return
    hex_ = member.name.removeprefix("blobs/sha256/")
    try:
        digest = Digest(hex_)
    except ValueError:
        raise BundleError(f"{name}: unexpected entry {member.name!r}") from None
    if digest not in expected or not member.isreg():
        raise BundleError(f"{name}: blob {digest} is not listed in {CONTENTS}",
                          hint="the bundle was altered: get it again from its source")
    source = tar.extractfile(member)
    assert source is not None
    with store.writer() as out:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            out.write(chunk)
        if out.digest != digest or out.size != expected[digest]:
            raise BundleError(f"{name}: blob {digest} is altered (its {out.size} bytes hash to "
                              f"{out.digest})", hint="the bundle was altered or damaged: copy it again")


def iter_file(path: Path, offset: int, size: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        f.seek(offset)
        left = size
        while left:
            data = f.read(min(CHUNK, left))
            if not data:
                raise OSError(f"{path}: shorter than expected")
            left -= len(data)
            yield data
