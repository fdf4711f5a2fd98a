"""Charts shipped in ``registry/`` as OCI chart artifacts (``images.charts_as_oci``).

Each first-level chart of the build context (``charts/<dir>/`` with a Chart.yaml, or a
packaged ``charts/*.tgz``) becomes one chart step: the chart as Helm stores it in an OCI
registry (config ``application/vnd.cncf.helm.config.v1+json`` holding Chart.yaml as JSON,
one ``application/vnd.cncf.helm.chart.content.v1.tar+gzip`` layer), tagged
``charts/<name>:<version>`` in the tree, so that on the cluster
``helm install oci://sealos.hub:5000/charts/<name> --version <version>`` works offline.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import yaml

from clusterbuild.errors import InputError
from clusterbuild.kubefile.context import Context
from clusterbuild.oci.filetree import EntryKind, FileEntry
from clusterbuild.oci.model import to_bytes
from clusterbuild.plan.steps import ChartStep
from clusterbuild.schema.bounded_yaml import YamlLimit, load_bounded

CHARTS_DIR = "charts/"
CHART_FILE = "Chart.yaml"
MAX_CHART_YAML = 1 << 20  # a Chart.yaml larger than 1 MiB is refused


def chart_repository(name: str) -> str:
    return f"charts/{name}"


def chart_tag(version: str) -> str:
    """OCI tags cannot hold '+': Helm stores SemVer build metadata with '_' instead."""
    return version.replace("+", "_")


def _metadata(text: str, where: str) -> dict[str, Any]:
    try:
        meta = load_bounded(text)
    except (yaml.YAMLError, YamlLimit) as exc:
        raise InputError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})",
                         hint="fix the chart's Chart.yaml") from None
    if not isinstance(meta, dict):
        raise InputError(f"{where}: not a mapping", hint="fix the chart's Chart.yaml")
    for field in ("name", "version"):
        if not isinstance(meta.get(field), str | int | float) or not str(meta[field]).strip():
            raise InputError(f"{where}: field {field!r} is missing",
                             hint=f"give the chart a {field} in Chart.yaml")
    meta["name"], meta["version"] = str(meta["name"]), str(meta["version"])
    if "/" in meta["name"] or meta["name"] != meta["name"].lower():
        raise InputError(f"{where}: chart name {meta['name']!r} cannot be an OCI repository name",
                         hint="use a lower-case chart name without '/'")
    return meta


def _config(meta: dict[str, Any], where: str) -> str:
    try:
        return to_bytes({k: meta[k] for k in sorted(meta)}).decode()
    except (TypeError, ValueError):
        raise InputError(f"{where}: holds values JSON cannot express (dates, binary)",
                         hint="quote them in Chart.yaml") from None


def _read(path: Path, where: str, limit: int = MAX_CHART_YAML) -> str:
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{where}: larger than {limit} bytes", hint="this is not a Chart.yaml")
    return data.decode("utf-8", "replace")


def _packaged_metadata(path: Path, where: str) -> dict[str, Any]:
    """Chart.yaml of a packaged chart: the first-level ``<dir>/Chart.yaml`` member."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                parts = member.name.strip("/").split("/")
                if len(parts) == 2 and parts[1] == CHART_FILE and member.isfile():
                    if member.size > MAX_CHART_YAML:
                        break
                    f = tar.extractfile(member)
                    assert f is not None
                    return _metadata(io.TextIOWrapper(f, "utf-8", "replace").read(),
                                     f"{where}:{member.name}")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InputError(f"{where}: not a chart archive ({exc})",
                         hint="package it with `helm package`, or commit the chart directory") from None
    raise InputError(f"{where}: no <chart>/Chart.yaml inside", hint="package it with `helm package`")


def chart_steps(context: Context, app: str, version: str, platform: Any,
                mtime: int) -> list[ChartStep]:
    """One chart step per first-level chart of ``context``, sorted by path."""
    dirs: dict[str, list[str]] = {}
    steps: list[ChartStep] = []
    for path in sorted(context.files):
        rest = path.removeprefix(CHARTS_DIR)
        if not path.startswith(CHARTS_DIR) or not rest:
            continue
        first, slash, _ = rest.partition("/")
        if slash:
            dirs.setdefault(first, []).append(path)
        elif first.endswith(".tgz") and context.files[path].entry.kind is EntryKind.FILE:
            item = context.files[path]
            assert item.source is not None and item.entry.digest is not None
            meta = _packaged_metadata(item.source, path)
            steps.append(_step(app, version, platform, meta, _config(meta, path), mtime,
                               package=item.entry, sources={str(item.entry.digest): item.source}))
    for first, paths in sorted(dirs.items()):
        chart_yaml = context.files.get(f"{CHARTS_DIR}{first}/{CHART_FILE}")
        if chart_yaml is None or chart_yaml.source is None:
            continue  # not a chart: a directory of other files
        where = f"{CHARTS_DIR}{first}/{CHART_FILE}"
        meta = _metadata(_read(chart_yaml.source, where), where)
        prefix = f"{CHARTS_DIR}{first}/"
        entries, sources = [], {}
        for path in paths:
            item = context.files[path]
            if item.entry.kind is not EntryKind.FILE or item.source is None:
                continue  # helm packages regular files; directories are implied
            assert item.entry.digest is not None
            rel = path.removeprefix(prefix)
            entries.append(FileEntry(f"{meta['name']}/{rel}", EntryKind.FILE, 0o644,
                                     item.entry.size, item.entry.digest))
            sources[str(item.entry.digest)] = item.source
        steps.append(_step(app, version, platform, meta, _config(meta, where), mtime,
                           entries=tuple(entries), sources=sources))
    return steps


def _step(app: str, version: str, platform: Any, meta: dict[str, Any], config: str, mtime: int,
          entries: tuple[FileEntry, ...] = (), package: FileEntry | None = None,
          sources: dict[str, Path] | None = None) -> ChartStep:
    reference = f"{chart_repository(meta['name'])}:{chart_tag(meta['version'])}"
    return ChartStep(
        app=app, version=version, platforms=(platform,),
        slot=f"chart/{app}/{version}/{platform}/{meta['name']}", reference=reference,
        config=config, entries=entries, package=package, mtime=mtime, sources=sources or {})
