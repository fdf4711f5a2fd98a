"""Turn evaluated recipes and build contexts into a plan of typed steps.

Per platform: one layer step per COPY (the ``registry/`` part of a layer goes
into a layer of its own, stored uncompressed because its blobs are already
compressed; files of 1 MiB or more go into a second layer, and each of 16 MiB or more
into a layer of its own), one image step.
Per app version: one index step and one export step. Layers equal across platforms are one step.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from clusterbuild.kubefile.context import Context, ContextFile
from clusterbuild.kubefile.copy import Placed, resolve_copy
from clusterbuild.kubefile.evaluate import BuildRecipe, CopyOp
from clusterbuild.oci.filetree import EntryKind, FileEntry, with_parents
from clusterbuild.oci.model import ImageConfig, MediaType
from clusterbuild.oci.platform import Platform
from clusterbuild.plan.chart_artifacts import chart_steps
from clusterbuild.plan.graph import Plan
from clusterbuild.plan.results import ScanResult
from clusterbuild.plan.steps import (
    ExportStep,
    ImageStep,
    IndexStep,
    LayerStep,
    PullStep,
    PushStep,
    RegistryStep,
    ScanStep,
    Step,
)

REGISTRY_DIR = "registry"
LARGE_FILE = 16 << 20  # 16 MiB: files this big get a layer of their own
MEDIUM_FILE = 1 << 20  # 1 MiB: smaller ones, together, a layer apart from the small files
MAX_OWN_LAYERS = 16  # per COPY: images stay far below overlayfs' limit of layers


@dataclass(frozen=True)
class PlatformBuild:
    app: str
    version: str
    platform: Platform
    recipe: BuildRecipe
    context: Context
    # digest of a context file -> the planned step whose result holds its bytes (unpacked
    # remote inputs): a layer packing the file needs that step
    producers: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class AppImages:
    """What an app version ships in registry/: found by its scan step."""

    scan: ScanStep
    found: ScanResult
    all_platforms: bool = False
    charts_as_oci: bool = False  # also ship each chart of the context as an OCI chart artifact
    pins: Mapping[str, str] = field(default_factory=dict)  # reference -> root digest (apps.lock)

    @property
    def references(self) -> tuple[str, ...]:
        """Normalised, as stored under their tags."""
        return tuple(image.reference for image in self.found.images)


@dataclass(frozen=True)
class PlanOptions:
    registry: str  # repository prefix, e.g. docker.io/labring
    root: Path  # the workspace; output paths are relative to it
    layout: str = "out"
    archive: bool = False  # an oci-archive per platform image under <layout>/archives/
    multi_archive: bool = False  # one oci-archive per app version, with the index
    docker_archive: bool = False  # a docker-archive per platform image, likewise
    zstd: bool = False  # layers outside registry/ as zstd instead of gzip
    mtime: int = 0  # SOURCE_DATE_EPOCH: file times in layers, and `created` unless given below
    push_to: str | None = None  # repository prefix to push to, e.g. registry.example.com/labring
    shard: bool = False  # a CI shard: push the -<arch> images only; no index, no layout
    created: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (app, version) -> created

    @property
    def archive_dir(self) -> str:
        return posixpath.join(self.layout, "archives")


def created_timestamp(mtime: int) -> str:
    return datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _split_registry(placed: list[Placed], compressed: MediaType) -> list[tuple[list[Placed], MediaType]]:
    """Separate what lands under /registry (already-compressed blobs) from the rest."""
    def in_registry(p: Placed) -> bool:
        return p.entry.path == REGISTRY_DIR or p.entry.path.startswith(REGISTRY_DIR + "/")

    registry = [p for p in placed if in_registry(p)]
    rest = [p for p in placed if not in_registry(p)]
    parts = [(registry, MediaType.LAYER_TAR)] if registry else []
    if rest or not registry:
        parts += [(part, compressed) for part in _split_large(rest)]
    return parts


def _split_large(placed: list[Placed]) -> list[list[Placed]]:
    """The small files in one layer; the files of ``MEDIUM_FILE`` bytes or more in a second;
    each file of ``LARGE_FILE`` bytes or more (the ``MAX_OWN_LAYERS`` largest) in a layer of
    its own. Each layer repeats the parent directories of its files, so the union is the
    COPY's file tree. Editing a small file does not compress a binary again, and apps that
    ship the same big binary at the same path share its layer (its key is the file's digest,
    path and mode)."""
    def files_of(least: int) -> list[Placed]:
        return [p for p in placed if p.entry.kind is EntryKind.FILE and p.entry.size >= least]

    large = sorted(sorted(files_of(LARGE_FILE), key=lambda p: (-p.entry.size, p.entry.path))
                   [:MAX_OWN_LAYERS], key=lambda p: p.entry.path)
    medium = [p for p in files_of(MEDIUM_FILE) if p not in large]
    if not large and not medium:
        return [placed]
    dirs = {p.entry.path: p for p in placed if p.entry.kind is EntryKind.DIR}

    def with_dirs(files: list[Placed]) -> list[Placed]:
        parents = dict.fromkeys(d for f in files for d in _ancestors(f.entry.path) if d in dirs)
        return [*(dirs[d] for d in parents), *files]

    parts = ([with_dirs(medium)] if medium else []) + [with_dirs([big]) for big in large]
    in_parts = {id(p) for part in parts for p in part}
    small = [p for p in placed if id(p) not in in_parts or p.entry.kind is EntryKind.DIR]
    if any(id(p) not in in_parts for p in small):  # not only the binaries' directories
        parts.insert(0, small)
    return parts


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _layer_step(build: PlatformBuild, n: int, placed: list[Placed], media_type: MediaType,
                op: CopyOp, mtime: int) -> LayerStep:
    entries = with_parents(p.entry for p in placed)
    sources = {str(p.entry.digest): p.source for p in placed
               if p.entry.kind is EntryKind.FILE and p.source is not None}
    needs = tuple(sorted({build.producers[d] for d in sources if d in build.producers}))
    return LayerStep(
        app=build.app, version=build.version, platforms=(build.platform,),
        slot=f"layer/{build.app}/{build.version}/{build.platform}/{n}", needs=needs,
        entries=entries, media_type=media_type, mtime=mtime, created_by=op.created_by,
        sources=sources)


def _image_dirs(entries: Iterable[FileEntry]) -> set[str]:
    return {e.path for e in entries if e.kind is EntryKind.DIR}


def _without_local_registry(context: Context) -> Context:
    """The generated registry/ tree replaces whatever registry/ the app dir holds (a stale
    tree from an earlier `sealos build` must never leak into the image)."""
    files = {p: f for p, f in context.files.items()
             if p != REGISTRY_DIR and not p.startswith(REGISTRY_DIR + "/")}
    files[REGISTRY_DIR] = ContextFile(FileEntry(REGISTRY_DIR, EntryKind.DIR, 0o755), None)
    return Context(context.root, files)


def _registry_step(plan: Plan, build: PlatformBuild, images: AppImages, mtime: int) -> str:
    platform = build.platform
    pulls = [plan.add(PullStep(
        app=build.app, version=build.version, platforms=(platform,),
        slot=f"pull/-/-/{'all' if images.all_platforms else platform}/{ref}",
        needs=(images.scan.key,), reference=ref, all_platforms=images.all_platforms,
        pinned=images.pins.get(ref, "")))
        for ref in images.references]
    charts = chart_steps(build.context, build.app, build.version, platform, mtime) \
        if images.charts_as_oci else []
    pulls += [plan.add(step) for step in charts]
    shipped = f"{len(images.references)} images" + (f", {len(charts)} charts" if charts else "")
    return plan.add(RegistryStep(
        app=build.app, version=build.version, platforms=(platform,),
        slot=f"registry/{build.app}/{build.version}/{platform}/0", needs=tuple(pulls),
        references=(*images.references, *(step.reference for step in charts)), mtime=mtime,
        created_by=f"clusterbuild: registry/ with {shipped}"))


def plan_platform(plan: Plan, build: PlatformBuild, mtime: int, images: AppImages | None,
                  created: int | None = None, compressed: MediaType = MediaType.LAYER_GZIP) -> str:
    """Add the layer and image steps of one platform; return the image step key. The images
    go into the image where a COPY places ``registry/`` (as ``sealos build`` ships them), and
    are pulled only then; found images that no COPY places are a warning of the plan."""
    recipe = build.recipe
    context = build.context if images is None else _without_local_registry(build.context)
    registry_placed = False
    layer_keys: list[str] = []
    layer_names: list[str] = []
    history: list[tuple[str, bool]] = []
    image_dirs: set[str] = set()

    def add_layer(key: str, name: str) -> None:
        layer_keys.append(key)
        layer_names.append(name)
        history.append((name, False))

    for item in recipe.steps:
        if isinstance(item, str):
            history.append((item, True))
            continue
        placed = resolve_copy(item, context, image_dirs)
        for part, media_type in _split_registry(placed, compressed):
            if media_type is MediaType.LAYER_TAR and images is not None and not registry_placed:
                registry_placed = True  # the generated tree, where COPY put it
                add_layer(_registry_step(plan, build, images, mtime), item.created_by)
                continue
            step = _layer_step(build, len(layer_keys), part, media_type, item, mtime)
            add_layer(plan.add(step), item.created_by)
            image_dirs |= _image_dirs(step.entries)
    if images is not None and not registry_placed:
        plan.warn(f"{build.app}:{build.version} [{build.platform}]: {len(images.references)} images "
                  "found, but no COPY of the Kubefile places registry/, so they are not shipped "
                  "(add `COPY registry registry`)")
    config = ImageConfig(
        platform=build.platform, created=created_timestamp(mtime if created is None else created),
        env=tuple(f"{k}={v}" for k, v in recipe.env), cmd=recipe.cmd,
        entrypoint=recipe.entrypoint, labels=recipe.labels, working_dir=recipe.working_dir,
        user=recipe.user, exposed_ports=recipe.exposed_ports, volumes=recipe.volumes,
        stop_signal=recipe.stop_signal, history=tuple(history))
    return plan.add(ImageStep(
        app=build.app, version=build.version, platforms=(build.platform,),
        slot=f"image/{build.app}/{build.version}/{build.platform}/0",
        needs=tuple(layer_keys), config=config, layer_names=tuple(layer_names)))


def image_ref(registry: str, app: str, tag: str) -> str:
    return f"{registry}/{app}:{tag}"


def plan_builds(builds: list[PlatformBuild], options: PlanOptions,
                images: dict[tuple[str, str], AppImages] | None = None,
                inputs: Sequence[Step] = ()) -> Plan:
    """The plan of ``builds``; ``inputs`` are the fetch and unpack steps of remote inputs."""
    plan = Plan()
    for step in inputs:
        plan.add(step)
    groups: dict[tuple[str, str], list[tuple[Platform, str]]] = {}
    for found in (images or {}).values():
        plan.add(found.scan)
    for build in builds:
        app_images = (images or {}).get((build.app, build.version))
        if app_images is not None and not app_images.references and not app_images.charts_as_oci:
            app_images = None
        key = plan_platform(plan, build, options.mtime, app_images,
                            options.created.get((build.app, build.version)),
                            MediaType.LAYER_ZSTD if options.zstd else MediaType.LAYER_GZIP)
        groups.setdefault((build.app, build.version), []).append((build.platform, key))
    for (app, version), per_platform in groups.items():
        platforms = tuple(p for p, _ in per_platform)
        image_keys = tuple(k for _, k in per_platform)
        if options.shard:
            _plan_shard_push(plan, options, app, version, per_platform)
            continue
        index_key = plan.add(IndexStep(
            app=app, version=version, platforms=platforms, slot=f"index/{app}/{version}/-/0",
            needs=image_keys))
        archive = posixpath.join(options.archive_dir, f"{app}-{version}.tar") \
            if options.multi_archive else None
        singles = tuple(posixpath.join(options.archive_dir, f"{app}-{version}-{p.tag_suffix}.tar")
                        for p in platforms) if options.archive else ()
        docker = tuple(posixpath.join(options.archive_dir, f"{app}-{version}-{p.tag_suffix}.docker.tar")
                       for p in platforms) if options.docker_archive else ()
        plan.add(ExportStep(
            app=app, version=version, platforms=platforms, slot=f"export/{app}/{version}/-/0",
            needs=(index_key, *image_keys), root=options.root, layout=options.layout,
            index_ref=image_ref(options.registry, app, version),
            platform_refs=tuple(image_ref(options.registry, app, f"{version}-{p.tag_suffix}")
                                for p in platforms),
            archive=archive, platform_archives=singles, docker_archives=docker))
        if options.push_to is not None:
            plan.add(PushStep(
                app=app, version=version, platforms=platforms, slot=f"push/{app}/{version}/-/0",
                needs=(index_key, *image_keys), index_ref=image_ref(options.push_to, app, version),
                platform_refs=tuple(image_ref(options.push_to, app, f"{version}-{p.tag_suffix}")
                                    for p in platforms)))
    return plan



def _plan_shard_push(plan: Plan, options: PlanOptions, app: str, version: str,
                     per_platform: Sequence[tuple[Platform, str]]) -> None:
    """A shard pushes ``<app>:<version>-<arch>`` per platform, one push step each (shards
    of one app version may run on different machines)."""
    if options.push_to is None:
        return
    for platform, key in per_platform:
        plan.add(PushStep(
            app=app, version=version, platforms=(platform,), slot=f"push/{app}/{version}/{platform}/0",
            needs=(key,),
            platform_refs=(image_ref(options.push_to, app, f"{version}-{platform.tag_suffix}"),)))
