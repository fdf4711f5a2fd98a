"""``bundle``, ``unbundle`` and ``bundle --list-have``: carry app versions into an air gap.

    bundle     the layout's refs of each APP[:VERSION] → every blob they reach, each once; a
               registry/ layer goes as its skeleton plus the inner blobs (so a delta carries only
               the images that changed); blobs the site has (``--have``) are left out
    unbundle   every blob verified into the content store → registry/ layers rebuilt (from the
               bundle, else from the site) and checked → every blob of every ref present → written
    list-have  every blob a layout or registry holds, inner blobs of registry/ layers included
"""

from __future__ import annotations

import contextlib
import json
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

import yaml

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import InputError
from clusterbuild.execute.network import Network
from clusterbuild.lockfile import LockFile
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.places.bundle import (
    BundleError,
    Carried,
    Contents,
    iter_file,
    read_bundle,
    read_contents,
    write_bundle,
)
from clusterbuild.places.bundle_site import LayoutSite, RegistrySite, Site, as_stream, children, open_site
from clusterbuild.places.layer_slices import SlicedLayer, slice_layer
from clusterbuild.places.layout import OciLayout
from clusterbuild.settings import Settings
from clusterbuild.workspace.load import LoadedWorkspace

AGAIN = "bundle again with a --have list of this site (`clusterbuild bundle --list-have`)"
_MANIFESTS = {MediaType.INDEX.value, MediaType.DOCKER_LIST.value, MediaType.MANIFEST.value,
              MediaType.DOCKER_MANIFEST.value}


@dataclass(frozen=True)
class Planned:
    contents: Contents
    carried: tuple[Carried, ...]

    @property
    def size(self) -> int:
        return sum(c.size for c in self.carried)


def select_refs(ws: LoadedWorkspace, layout: OciLayout, targets: Sequence[str]) -> dict[str, Descriptor]:
    """The layout's refs of each APP[:VERSION] (the index and each platform image)."""
    refs = layout.refs()
    chosen: dict[str, Descriptor] = {}
    for target in targets:
        app, _, version = target.partition(":")
        entry = ws.config.apps.get(app)
        if entry is None:
            raise InputError(f"{ws.config_path}: unknown app {app!r}", hint="name an app of apps.yaml")
        for v in [version] if version else entry.versions:
            base = f"{ws.config.registry}/{app}:{v}"
            found = {n: d for n, d in refs.items() if n == base or n.startswith(f"{base}-")}
            if base not in found:
                raise InputError(f"{app}:{v} is not in {layout.root}",
                                 hint=f"run `clusterbuild apply {app}:{v}`")
            chosen |= found
    return chosen


def _opener(path: Path, offset: int, size: int) -> Callable[[], BinaryIO]:
    return lambda: as_stream(iter_file(path, offset, size))


def plan_bundle(layout: OciLayout, refs: dict[str, Descriptor], have: set[Digest],
                store: BlobStore) -> Planned:
    """What a bundle of ``refs`` carries for a site that has ``have``. Skeletons of sliced layers
    are put in ``store`` (they are small)."""
    carried: dict[Digest, Carried] = {}
    omitted: set[Digest] = set()
    layers: dict[Digest, SlicedLayer] = {}

    def carry(digest: Digest, size: int, opener: Callable[[], BinaryIO]) -> None:
        if digest in have:
            omitted.add(digest)
        else:
            carried.setdefault(digest, Carried(digest, size, opener))

    stack, seen = list(refs.values()), set()
    while stack:
        desc = stack.pop()
        if desc.digest in seen:
            continue
        seen.add(desc.digest)
        path = layout.blob_path(desc.digest)
        if not path.is_file():
            raise InputError(f"{layout.root}: blob {desc.digest} is missing", hint="run apply again")
        if desc.media_type in _MANIFESTS:
            stack += children(path.read_bytes())
        if desc.media_type == MediaType.LAYER_TAR.value and desc.digest not in have:
            sliced, skeleton = slice_layer(path, desc.digest)
            if any(s.digest for s in sliced.segments):
                layers[desc.digest] = sliced
                store.put_bytes(skeleton)
                carry(sliced.skeleton, len(skeleton), partial(_opener(store.path(sliced.skeleton), 0,
                                                                      len(skeleton))))
                for digest, (offset, size) in sliced.inner.items():
                    carry(digest, size, _opener(path, offset, size))
                continue
        carry(desc.digest, desc.size, _opener(path, 0, desc.size))
    blobs = tuple(sorted((c.digest, c.size) for c in carried.values()))
    contents = Contents(tuple(sorted(refs.items())), blobs, tuple(sorted(omitted)),
                        tuple(layers[d] for d in sorted(layers)))
    return Planned(contents, tuple(carried.values()))


def read_have(path: Path, store: BlobStore) -> set[Digest]:
    """What the site has: a digest list (``bundle --list-have``), an earlier bundle, or an
    apps.lock (the images it pins, with what the content store knows they reach)."""
    if not path.is_file():
        raise InputError(f"--have {path}: no such file")
    if tarfile.is_tarfile(path) or path.read_bytes()[:4] == b"\x28\xb5\x2f\xfd":
        return read_contents([path]).every_blob
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.name.endswith(".lock") or text.startswith("# Written by `clusterbuild lock`"):
        return _lock_closure(LockFile.read(path.parent) if path.name == "apps.lock" else None, path, store)
    have: set[Digest] = set()
    for n, line in enumerate(text.splitlines(), 1):
        word = line.split("#", 1)[0].strip().split(" ", 1)[0]
        if word:
            try:
                have.add(Digest.parse(word))
            except ValueError:
                raise InputError(f"--have {path}:{n}: {word!r} is not a digest",
                                 hint="one sha256:<hex> per line, as `bundle --list-have` writes") from None
    return have


def _lock_closure(lock: LockFile | None, path: Path, store: BlobStore) -> set[Digest]:
    if lock is None:
        doc = yaml.safe_load(path.read_text()) or {}
        roots = {Digest.parse(str(d)) for d in (doc.get("images") or {}).values()}
    else:
        roots = set(lock.images.values())
    have, stack = set(), list(roots)
    while stack:
        digest = stack.pop()
        if digest in have:
            continue
        have.add(digest)
        if store.has(digest):
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):  # not a manifest
                stack += [c.digest for c in children(store.read_bytes(digest))]
    return have


def bundle(settings: Settings, ws: LoadedWorkspace, targets: Sequence[str], output: Path,
           have: Path | None, zstd: bool, split: int | None) -> tuple[Planned, list[Path]]:
    store = BlobStore(settings.cache_dir)
    layout = OciLayout(settings.layout_dir)
    refs = select_refs(ws, layout, targets)
    planned = plan_bundle(layout, refs, read_have(have, store) if have else set(), store)
    return planned, write_bundle(output, planned.contents, planned.carried, zstd, split)


def _network_site(settings: Settings, target: str) -> tuple[Network, LayoutSite | RegistrySite]:
    network = Network(settings)
    from clusterbuild.places.bundle_site import is_registry

    return network, open_site(target, network.client() if is_registry(target) else None)


def site_digests(settings: Settings, target: str) -> Iterator[str]:
    network, site = _network_site(settings, target)
    try:
        digests = sorted(site.digests())
    finally:
        network.close()
    yield f"# blobs at {target}: clusterbuild bundle --have FILE leaves them out"
    yield from (str(d) for d in digests)


def _rebuild(sliced: SlicedLayer, store: BlobStore, site: Site) -> None:
    skeleton = store.path(sliced.skeleton)
    with store.writer() as out:
        for segment in sliced.segments:
            if segment.digest is None:
                chunks = iter_file(skeleton, segment.offset, segment.size)
            elif store.has(segment.digest, segment.size):
                held, base, _ = store.locate(segment.digest)  # its file, or its range of a layer
                chunks = iter_file(held, base, segment.size)
            elif site.has(segment.digest):
                chunks = site.read(segment.digest)
            else:
                raise BundleError(f"blob {segment.digest} of layer {sliced.layer} is neither in the "
                                  f"bundle nor at {site}", hint=AGAIN)
            for chunk in chunks:
                out.write(chunk)
        if out.digest != sliced.layer:
            raise BundleError(f"layer {sliced.layer} rebuilds to {out.digest}: an inner blob at {site} "
                              "or in the bundle is altered", hint="bundle the app version in full")


def _complete(contents: Contents, store: BlobStore, site: Site) -> set[Digest]:
    """Every blob the refs reach, each in the store or at the site; manifests the site has are
    copied into the store (pushing walks them)."""
    needed, stack = set(), [d for _, d in contents.refs]
    while stack:
        desc = stack.pop()
        if desc.digest in needed:
            continue
        needed.add(desc.digest)
        if not store.has(desc.digest) and not site.has(desc.digest):
            raise BundleError(f"blob {desc.digest} ({desc.media_type}) is neither in the bundle nor "
                              f"at {site}", hint=AGAIN)
        if desc.media_type in _MANIFESTS:
            if not store.has(desc.digest):
                store.put_bytes(site.manifest(desc.digest))
            stack += children(store.read_bytes(desc.digest))
    return needed


def unbundle(settings: Settings, files: Sequence[Path], target: str) -> list[str]:
    """Verify the bundle into the content store, rebuild its layers, write its refs to ``target``."""
    store = BlobStore(settings.cache_dir)
    contents = read_bundle(files, store)
    network, site = _network_site(settings, target)
    try:
        for sliced in contents.layers:
            if not store.has(sliced.layer, sliced.size):
                _rebuild(sliced, store, site)
        needed = _complete(contents, store, site)
        return site.write(dict(contents.refs), sorted(d for d in needed if store.has(d)), store)
    finally:
        network.close()


def describe(planned: Planned, files: Sequence[Path]) -> str:
    omitted = len(planned.contents.omitted)
    names = ", ".join(str(f) for f in files)
    return (f"{names}: {len(planned.contents.refs)} refs, {len(planned.carried)} blobs "
            f"({planned.size} bytes)" + (f", {omitted} left out (the site has them)" if omitted else ""))


def contents_json(contents: Contents) -> str:
    return json.dumps(contents.to_json(), indent=2, sort_keys=True)
