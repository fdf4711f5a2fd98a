"""``inspect``: what is inside a built cluster image, read where it lives.

``WHAT`` is ``APP:VERSION`` or a ref in the workspace's layout (``out/``), a path to an
oci-archive or docker-archive, or ``docker://REF`` (a registry; a ref with a host that the
layout does not hold is read from its registry too). An index is shown for one platform:
``--platform``, else this machine's if the index has it, else its first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterbuild.errors import InputError, UsageError
from clusterbuild.kubefile.sealos_run import sealos_commands
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor
from clusterbuild.places.image_contents import LayerContents, TopLevel, TreeImage
from clusterbuild.places.readers import BlobReader, LayoutReader, archive_reader
from clusterbuild.settings import Settings

_INDEXES = ("application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json")


@dataclass(frozen=True)
class Layer:
    digest: str
    media_type: str
    size: int
    created_by: str


@dataclass(frozen=True)
class Inspection:
    ref: str
    where: str
    digest: str  # what the ref names (an index or a manifest)
    media_type: str
    platforms: tuple[str, ...]  # of the index ((the one) for a single manifest)
    platform: str  # the one shown
    manifest: str
    type: str  # sealos.io.type: application (default), rootfs, patch
    labels: dict[str, str]
    env: tuple[str, ...]
    commands: tuple[str, ...]  # as sealos run executes them, variables expanded
    written: tuple[str, ...]  # the ENTRYPOINT + CMD elements as stored
    files: tuple[TopLevel, ...]
    registry_images: tuple[TreeImage, ...]
    layers: tuple[Layer, ...]
    sboms: tuple[str, ...]
    not_read: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "ref": self.ref, "where": self.where, "digest": self.digest,
                "mediaType": self.media_type, "platforms": list(self.platforms),
                "platform": self.platform, "manifest": self.manifest, "type": self.type,
                "labels": self.labels, "env": list(self.env), "commands": list(self.commands),
                "cmd": list(self.written),
                "files": [{"path": t.name, "files": t.files, "size": t.size} for t in self.files],
                "registry": [{"reference": i.reference, "platform": i.platform, "digest": i.digest,
                              "size": i.size} for i in self.registry_images],
                "layers": [{"digest": la.digest, "mediaType": la.media_type, "size": la.size,
                            "createdBy": la.created_by} for la in self.layers],
                "sbom": list(self.sboms), "notRead": list(self.not_read)}


def inspect_image(settings: Settings, what: str, platform: str | None,
                  notify: Callable[[str], None]) -> Inspection:
    with _opened(settings, what, platform, notify) as (reader, ref):
        root = reader.refs()[ref]
        return _inspect(reader, ref, root, platform)


@contextmanager
def _opened(settings: Settings, what: str, platform: str | None,
            notify: Callable[[str], None]) -> Iterator[tuple[BlobReader, str]]:
    with ExitStack() as stack:
        path = Path(what)
        if not what.startswith("docker://") and path.is_file():
            archive = stack.enter_context(archive_reader(path))
            yield archive, _only_ref(archive, what)
            return
        if not what.startswith("docker://"):
            layout = LayoutReader(settings.workspace / settings.layout)
            found = _in_layout(layout.refs(), what, settings.registry)
            if found:
                yield layout, found
                return
            if "/" not in what.partition(":")[0]:
                raise InputError(f"{what}: not in {layout.where}",
                                 hint="build it with `clusterbuild apply`, or name an archive file "
                                 "or docker://REF")
        yield _pulled(settings, stack, what.removeprefix("docker://"), platform, notify)


def _in_layout(refs: dict[str, Descriptor], what: str, registry: str) -> str | None:
    candidates = [what, f"{registry}/{what}" if registry else ""]
    for name in candidates:
        if name in refs:
            return name
    ends = [ref for ref in refs if ref.endswith(f"/{what}")]
    return ends[0] if len(ends) == 1 else None


def _only_ref(reader: BlobReader, what: str) -> str:
    refs = reader.refs()
    if len({desc.digest for desc in refs.values()}) == 1:  # one image, maybe under several tags
        return sorted(refs)[0]
    if len(refs) != 1:
        indexes = [ref for ref, desc in refs.items() if desc.media_type in _INDEXES]
        if len(indexes) == 1:
            return indexes[0]
        raise InputError(f"{what}: holds {len(refs)} images ({', '.join(sorted(refs))})",
                         hint="load it, or write one image per archive")
    return next(iter(refs))


def _pulled(settings: Settings, stack: ExitStack, text: str, platform: str | None,
            notify: Callable[[str], None]) -> tuple[BlobReader, str]:
    from clusterbuild.cache.store import BlobStore
    from clusterbuild.commands.locks import hold_cache
    from clusterbuild.execute.network import Network
    from clusterbuild.oci.platform import Platform
    from clusterbuild.oci.reference import Reference, ReferenceError
    from clusterbuild.places.readers import StoreReader

    try:
        ref = Reference.parse(text)
    except ReferenceError as exc:
        raise InputError(f"{text}: {exc}", hint="e.g. docker://quay.io/org/image:tag") from None
    network = Network(settings)
    stack.callback(network.close)
    stack.enter_context(hold_cache(settings.cache_dir, exclusive=False, timeout=settings.lock_timeout,
                                   notify=notify))
    store = BlobStore(settings.cache_dir)
    wanted = [Platform.parse(platform)] if platform else None
    pulled = network.client().pull([ref], wanted, store)[ref]
    return StoreReader(store, str(ref), pulled.root), str(ref)


def _inspect(reader: BlobReader, ref: str, root: Descriptor, platform: str | None) -> Inspection:
    platforms: tuple[str, ...] = ()
    manifest = root
    if root.media_type in _INDEXES:
        children = [Descriptor.from_json(m) for m in json.loads(reader.read(root.digest))["manifests"]]
        platforms = tuple(str(c.platform) for c in children if c.platform is not None)
        manifest = _choose(children, platform, ref)
    doc = json.loads(reader.read(manifest.digest))
    config = json.loads(reader.read(Digest.parse(doc["config"]["digest"])))
    body = config.get("config") or {}
    history = [h.get("created_by", "") for h in config.get("history", []) if not h.get("empty_layer")]
    contents = LayerContents()
    layers = []
    for i, layer in enumerate(doc.get("layers", [])):
        with reader.open(Digest.parse(layer["digest"])) as stream:
            contents.read_layer(stream, layer["mediaType"])
        layers.append(Layer(layer["digest"], layer["mediaType"], layer["size"],
                            history[i] if i < len(history) else ""))
    shown = _platform_text(config)
    labels = dict(body.get("Labels") or {})
    env = tuple(body.get("Env") or ())
    entrypoint, cmd = body.get("Entrypoint") or [], body.get("Cmd") or []
    return Inspection(
        ref=ref, where=reader.where, digest=str(root.digest), media_type=root.media_type,
        platforms=platforms or (shown,), platform=shown, manifest=str(manifest.digest),
        type=labels.get("sealos.io.type", "application"), labels=labels, env=env,
        commands=tuple(sealos_commands(entrypoint, cmd, env)), written=(*entrypoint, *cmd),
        files=tuple(contents.top_levels()), registry_images=tuple(contents.tree_images()),
        layers=tuple(layers), sboms=tuple(contents.sboms), not_read=tuple(contents.unreadable))


def _platform_text(config: dict[str, Any]) -> str:
    parts = [config.get("os", ""), config.get("architecture", ""), config.get("variant", "")]
    return "/".join(p for p in parts if p)


def _choose(children: Sequence[Descriptor], platform: str | None, ref: str) -> Descriptor:
    from clusterbuild.places.registry.platform_match import host_platform

    have = [str(c.platform) for c in children if c.platform is not None]
    want = platform or str(host_platform())
    for child in children:
        if child.platform is not None and str(child.platform) == want:
            return child
    if platform:
        raise UsageError(f"--platform {platform}: {ref} has no such image",
                         hint=f"its platforms are {', '.join(have)}")
    return children[0]
