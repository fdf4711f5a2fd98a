"""The typed steps of a plan.

Each step names who needs it (app, version, platforms), the keys of the steps
it consumes (``needs``), and a fingerprint; its key comes from ``keys.step_key``.
A step whose key equals another's is the same work and is planned once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from clusterbuild.oci.filetree import FileEntry
from clusterbuild.oci.model import ImageConfig, MediaType, to_bytes
from clusterbuild.oci.platform import Platform
from clusterbuild.plan.keys import Fingerprint, step_key, value_digest

# how gzip layers are written (execute.compression): a change gives other bytes, so other keys
GZIP_LAYER_FORMAT = "gzip level 1, deflate blocks of 1 MiB"
ZSTD_LAYER_FORMAT = "zstd level 3, multi-threaded"


@dataclass(frozen=True)
class Step:
    kind: ClassVar[str]
    implementation: ClassVar[int] = 1

    app: str
    version: str
    platforms: tuple[Platform, ...]
    slot: str  # stable identity across runs: "<kind>/<app>/<version>/<platform>/<n>"
    needs: tuple[str, ...] = ()  # keys of consumed steps, in order

    def fingerprint(self) -> Fingerprint:
        return {f"input {i}": key for i, key in enumerate(self.needs)}

    @cached_property
    def key(self) -> str:
        return step_key(self.kind, self.implementation, self.fingerprint())

    @property
    def label(self) -> str:
        where = ",".join(str(p) for p in self.platforms) or "all platforms"
        return f"{self.kind} {self.app}:{self.version} [{where}]"


@dataclass(frozen=True)
class LayerStep(Step):
    """Write a set of files as one reproducible layer blob."""

    kind: ClassVar[str] = "layer"
    implementation: ClassVar[int] = 2  # 2: records the uncompressed size (for docker-archive)
    entries: tuple[FileEntry, ...] = ()
    media_type: MediaType = MediaType.LAYER_GZIP
    mtime: int = 0
    created_by: str = ""
    sources: dict[str, Path] = field(default_factory=dict, compare=False, hash=False)

    def fingerprint(self) -> Fingerprint:
        out = {f"file {e.path}": e.fingerprint() for e in self.entries}
        out["media type"] = self.media_type.value
        out["mtime"] = str(self.mtime)
        if self.media_type is MediaType.LAYER_GZIP:
            out["compression"] = GZIP_LAYER_FORMAT
        elif self.media_type is MediaType.LAYER_ZSTD:
            out["compression"] = ZSTD_LAYER_FORMAT
        return out

    @property
    def label(self) -> str:  # two layers of one image differ by their instruction
        return f"{super().label} {self.created_by}".rstrip()


@dataclass(frozen=True)
class ImageStep(Step):
    """Write the config and manifest of one platform's image from its layers (``needs``)."""

    kind: ClassVar[str] = "image"
    implementation: ClassVar[int] = 2  # 2: records config and layer sizes (for docker-archive)
    config: ImageConfig | None = None
    layer_names: tuple[str, ...] = ()  # the instruction of each layer, for messages

    def fingerprint(self) -> Fingerprint:
        assert self.config is not None
        out = {f"layer {i} ({name})": key
               for i, (name, key) in enumerate(zip(self.layer_names, self.needs, strict=True))}
        out["config"] = value_digest(to_bytes(self.config.to_json()).decode())
        return out


@dataclass(frozen=True)
class IndexStep(Step):
    """Write the multi-arch image index of an app version from its images (``needs``)."""

    kind: ClassVar[str] = "index"

    def fingerprint(self) -> Fingerprint:
        return {f"image {p}": key for p, key in zip(self.platforms, self.needs, strict=True)}


@dataclass(frozen=True)
class ExportStep(Step):
    """Place an app version's images in the OCI layout (and optionally archives). Paths are
    relative to the workspace root, so a moved workspace rebuilds nothing."""

    kind: ClassVar[str] = "export"
    implementation: ClassVar[int] = 4  # 4: loadable archives (one image each, named app:version)
    root: Path = field(default=Path("."), compare=False, hash=False)  # the workspace
    layout: str = "out"
    index_ref: str = ""  # e.g. docker.io/labring/app:v1
    platform_refs: tuple[str, ...] = ()  # one per platform, same order as platforms
    archive: str | None = None  # one oci-archive with the index and every platform
    platform_archives: tuple[str, ...] = ()  # one single-image oci-archive per platform
    docker_archives: tuple[str, ...] = ()  # one per platform, same order as platforms

    def fingerprint(self) -> Fingerprint:
        out = {f"ref {ref}": key for ref, key in zip(self.refs, self.needs, strict=True)}
        out["layout"] = self.layout
        out["archive"] = self.archive or ""
        if self.platform_archives:  # absent before: older keys stay as they were
            out["platform archives"] = ",".join(self.platform_archives)
        out["docker archives"] = ",".join(self.docker_archives)
        return out

    @property
    def refs(self) -> tuple[str, ...]:
        return (self.index_ref, *self.platform_refs)

    @property
    def layout_dir(self) -> Path:
        return self.root / self.layout


@dataclass(frozen=True)
class ScanStep(Step):
    """Find the images an app version ships. Computed while planning (it reads only local
    files), so that pulls can be planned; its result is recorded whenever it is computed."""

    kind: ClassVar[str] = "scan"
    implementation: ClassVar[int] = 2  # 2: records warnings (profiles that do not render)
    files: tuple[tuple[str, str], ...] = ()  # (context path, content digest) of what is read
    options: str = ""  # canonical JSON of the discovery options
    engine: str = ""

    def fingerprint(self) -> Fingerprint:
        out = {f"file {path}": digest for path, digest in self.files}
        out["app"] = f"{self.app}:{self.version}"  # results are reported per app version
        out["options"] = value_digest(self.options)
        out["engine"] = self.engine
        return out


@dataclass(frozen=True)
class PullStep(Step):
    """Pull one image (one platform, or every platform) into the content store."""

    kind: ClassVar[str] = "pull"
    implementation: ClassVar[int] = 2  # 2: records the root digest, for apps.lock
    reference: str = ""
    all_platforms: bool = False
    pinned: str = ""  # the root (index or manifest) digest apps.lock pins the reference to

    def fingerprint(self) -> Fingerprint:
        platform = "all" if self.all_platforms else ",".join(str(p) for p in self.platforms)
        return {"reference": self.reference, "platform": platform, "content": self.pinned}

    @property
    def label(self) -> str:
        return f"pull {self.reference} [{'all platforms' if self.all_platforms else self.platforms[0]}]"


@dataclass(frozen=True)
class RegistryStep(Step):
    """Write the registry/ tree of one platform's images (``needs``: pull steps) as a layer."""

    kind: ClassVar[str] = "registry"
    implementation: ClassVar[int] = 2
    references: tuple[str, ...] = ()  # as stored under their tags, same order as needs
    mtime: int = 0
    created_by: str = ""

    def fingerprint(self) -> Fingerprint:
        out = {f"image {ref}": key for ref, key in zip(self.references, self.needs, strict=True)}
        out["mtime"] = str(self.mtime)
        return out

    @property
    def label(self) -> str:
        count = len(self.references)
        return f"{super().label} {count} image{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class ChartStep(Step):
    """Package one chart of the context as an OCI chart artifact for ``registry/``: from its
    files (``entries``, under ``<name>/``) or, for a packaged chart, the archive as is."""

    kind: ClassVar[str] = "chart"
    reference: str = ""  # charts/<name>:<tag>, as stored in the tree
    config: str = ""  # Chart.yaml as canonical JSON: the artifact's config blob
    entries: tuple[FileEntry, ...] = ()
    package: FileEntry | None = None  # a committed or fetched charts/*.tgz, shipped as is
    mtime: int = 0
    sources: dict[str, Path] = field(default_factory=dict, compare=False, hash=False)

    def fingerprint(self) -> Fingerprint:
        out = {f"file {e.path}": e.fingerprint() for e in self.entries}
        if self.package is not None:
            out["package"] = self.package.fingerprint()
        out["reference"] = self.reference
        out["config"] = value_digest(self.config)
        out["mtime"] = str(self.mtime)
        return out

    @property
    def label(self) -> str:
        return f"chart {self.reference.removeprefix('charts/')} ({self.app}:{self.version})"


@dataclass(frozen=True)
class PushStep(Step):
    """Push an app version's images (each platform, then the index) to a registry. A CI
    shard's push has no index (``index_ref`` empty, ``needs`` the images only): the index is
    published once every platform is pushed (``clusterbuild publish``)."""

    kind: ClassVar[str] = "push"
    index_ref: str = ""
    platform_refs: tuple[str, ...] = ()  # same order as the image needs

    def fingerprint(self) -> Fingerprint:
        return {f"ref {ref}": key for ref, key in zip(self.refs, self.needs, strict=True)}

    @property
    def refs(self) -> tuple[str, ...]:
        return (self.index_ref, *self.platform_refs) if self.index_ref else self.platform_refs

    @property
    def image_needs(self) -> tuple[str, ...]:
        return self.needs[1:] if self.index_ref else self.needs


@dataclass(frozen=True)
class FetchStep(Step):
    """Download one remote input into the store. Keyed by its content digest, like a
    fixed-output derivation: a new URL serving the same bytes changes nothing."""

    kind: ClassVar[str] = "fetch"
    url: str = ""  # where from (http(s)://, or oci://host/repo@sha256:... for OCI charts)
    digest: str = ""  # sha256:<hex>, from the lock or the spec

    def fingerprint(self) -> Fingerprint:
        return {"content": self.digest}

    @property
    def label(self) -> str:
        return f"fetch {self.url}"


@dataclass(frozen=True)
class UnpackStep(Step):
    """Turn a fetched input into context files: unpack, pick members, edit chart values,
    check binaries' architecture."""

    kind: ClassVar[str] = "unpack"
    input_id: str = ""
    what: str = ""  # e.g. "chart ingress-nginx"
    digest: str = ""  # the fetched content
    params: str = ""  # canonical JSON of how to unpack (kind, dest, member, values, ...)

    def fingerprint(self) -> Fingerprint:
        return {"content": self.digest, "unpacking": value_digest(self.params)}


@dataclass(frozen=True)
class ScriptStep(Step):
    """Run a catalogue app's ``init.sh <arch> <app> <version>`` in a scratch copy of its
    directory; the directory it leaves is the build context. Impure: keyed by the script,
    the directory's content, the arguments and the tools it calls; its outputs are hashed."""

    kind: ClassVar[str] = "script"
    files: tuple[tuple[str, str], ...] = ()  # (path, fingerprint) of the app directory
    args: tuple[str, ...] = ()
    tools: tuple[tuple[str, str], ...] = ()  # (tool, identity) of what the script calls
    refresh: str = ""  # time bucket when a time-to-live is set
    app_dir: Path = field(default=Path("."), compare=False, hash=False)
    timeout: int = 1800

    def fingerprint(self) -> Fingerprint:
        out = {f"file {path}": fp for path, fp in self.files}
        out |= {f"tool {name}": identity for name, identity in self.tools}
        out["arguments"] = " ".join(self.args)
        out["refresh"] = self.refresh
        return out
