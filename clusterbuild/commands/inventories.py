"""The inventory of an app version (``supply.inventory``) from its plan, apps.lock, the app
directory and the images' manifests in the content store. Reads files only: no network."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from importlib.metadata import version as package_version
from pathlib import Path

import yaml

from clusterbuild.lockfile import LockFile
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import MediaType
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference
from clusterbuild.plan.planner import AppImages, image_ref
from clusterbuild.schema.models import FileInput
from clusterbuild.supply.inventory import ALL, ImageItem, InputItem, Inventory, sorted_inventory
from clusterbuild.workspace.inputs import remote_inputs
from clusterbuild.workspace.load import AppVersion, LoadedWorkspace
from clusterbuild.workspace.prepare import template_variables
from clusterbuild.workspace.templates import render

ReadBlob = Callable[[Digest], bytes | None]
_INDEXES = {MediaType.INDEX.value, MediaType.DOCKER_LIST.value}
SCRIPT_ID = "init.sh"


@cache
def tool_version() -> str:
    """clusterbuild's version: looked up once (a metadata lookup scans every installed
    distribution; once per app version, it was half of a no-op apply's SBOM writing)."""
    return package_version("clusterbuild")


def build_inventory(ws: LoadedWorkspace, av: AppVersion, lock: LockFile, shipped: AppImages | None,
                    read_blob: ReadBlob, created: int = 0) -> Inventory:
    images = tuple(_image(ref, shipped, lock, av.platforms, read_blob) for ref in
                   (shipped.references if shipped else ()))
    inputs = (*_remote(ws, av, lock), *_local_files(ws, av), *_local_charts(av.app_dir), *_scripts(av, lock))
    return sorted_inventory(Inventory(
        av.app, av.version, tool_version(), tuple(str(p) for p in av.platforms),
        image_ref(ws.config.registry, av.app, av.version), images, tuple(inputs), created))


def _image(ref: str, shipped: AppImages | None, lock: LockFile, platforms: tuple[Platform, ...],
           read_blob: ReadBlob) -> ImageItem:
    parsed = Reference.parse(ref)
    root = (shipped.pins.get(ref) if shipped else None) or \
        (str(lock.images[ref]) if ref in lock.images else "")
    if not root:
        return ImageItem(ref, parsed.registry, "")
    every = bool(shipped and shipped.all_platforms)
    return ImageItem(ref, parsed.registry, root, _platforms(Digest.parse(root), platforms, every, read_blob))


def _platforms(root: Digest, platforms: tuple[Platform, ...], every: bool,
               read_blob: ReadBlob) -> tuple[tuple[str, str], ...]:
    """(platform, manifest digest) of what registry/ ships, read from the stored index."""
    data = read_blob(root)
    if data is None:
        return ()
    try:
        doc = json.loads(data)
        if doc.get("mediaType") in _INDEXES or "manifests" in doc:
            wanted = {str(p) for p in platforms}
            out = []
            for entry in doc.get("manifests", []):
                p = entry.get("platform") or {}
                name = str(Platform(p.get("os", ""), p.get("architecture", ""), p.get("variant") or ""))
                if every or name in wanted or p.get("os") in ("wasi", "wasip1", "wasip2"):
                    out.append((name, str(entry["digest"])))
            return tuple(sorted(out))
        config = read_blob(Digest.parse(doc["config"]["digest"]))
        c = json.loads(config) if config else {}
        name = str(Platform(c.get("os", ""), c.get("architecture", ""), c.get("variant") or "")) \
            if c.get("os") else "unknown"
        return ((name, str(root)),)
    except (ValueError, KeyError, TypeError, AttributeError):
        return ()


def _remote(ws: LoadedWorkspace, av: AppVersion, lock: LockFile) -> list[InputItem]:
    out = []
    for plan in remote_inputs(ws, av):
        fields = plan.fields
        locked = lock.get(av.app, av.version, plan.input_id, plan.platform)
        url, digest = (locked.url, locked.digest.hex) if locked else \
            (str(fields.get("url") or ""), plan.expect.hex if plan.expect else "")
        extra = dict(locked.extra) if locked else {}
        name = str(fields.get("name") or fields["dest"]) if plan.kind == "chart" else str(fields["dest"])
        out.append(InputItem(
            plan.kind, name, plan.platform, digest, url,
            str(extra.get("chart_version") or fields.get("version") or ""),
            str(fields.get("repo") or fields.get("oci") or ""), plan.input_id))
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _local_files(ws: LoadedWorkspace, av: AppVersion) -> list[InputItem]:
    out: list[InputItem] = []
    for n, item in enumerate(av.spec.inputs):
        if not isinstance(item, FileInput):
            continue
        per_platform = []
        for platform in av.platforms:
            if item.platforms is not None and str(platform) not in item.platforms:
                continue
            variables = template_variables(ws, av, platform)
            src = render(item.src, variables, av.spec_path, f"inputs[{n}].src")
            dest = render(item.dest, variables, av.spec_path, f"inputs[{n}].dest")
            path = av.app_dir / src
            digest = _sha256(path) if path.is_file() else ""
            per_platform.append(InputItem("file", dest, str(platform), digest, url=src,
                                          input_id=f"inputs[{n}]"))
        if len(per_platform) > 1 and len({(i.name, i.sha256, i.url) for i in per_platform}) == 1:
            i = per_platform[0]
            per_platform = [InputItem(i.kind, i.name, ALL, i.sha256, i.url, input_id=i.input_id)]
        out += per_platform
    return out


def _local_charts(app_dir: Path) -> list[InputItem]:
    """Charts the app directory holds in charts/ (a directory or a .tgz each)."""
    charts = app_dir / "charts"
    out = []
    for entry in sorted(charts.iterdir()) if charts.is_dir() else []:
        chart_yaml = entry / "Chart.yaml"
        if entry.is_dir() and chart_yaml.is_file():
            meta = _chart_meta(chart_yaml.read_bytes())
            lines = "".join(f"{p.relative_to(entry).as_posix()} {_sha256(p)}\n"
                            for p in sorted(entry.rglob("*")) if p.is_file())
            digest = hashlib.sha256(lines.encode()).hexdigest()
        elif entry.is_file() and entry.name.endswith(".tgz"):
            meta, digest = {"name": entry.name.removesuffix(".tgz")}, _sha256(entry)
        else:
            continue
        out.append(InputItem("chart", str(meta.get("name") or entry.name), ALL, digest,
                             url=f"charts/{entry.name}", version=str(meta.get("version") or "")))
    return out


def _chart_meta(data: bytes) -> dict[str, object]:
    try:
        meta = yaml.safe_load(data)
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _scripts(av: AppVersion, lock: LockFile) -> list[InputItem]:
    """What each init.sh left (apps.lock pins its digest per platform)."""
    return [InputItem("init.sh", "init.sh outputs", platform, locked.digest.hex, input_id=SCRIPT_ID)
            for (app, version, input_id, platform), locked in lock.entries.items()
            if (app, version, input_id) == (av.app, av.version, SCRIPT_ID)]
