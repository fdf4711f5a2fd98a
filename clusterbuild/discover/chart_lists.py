"""Images a chart names outside its templates (full mode, when asked).

``images.from_annotations``: the lists chart authors keep in Chart.yaml annotations —
``images`` (Bitnami), ``artifacthub.io/images`` and ``helm.sh/images`` — of the chart and
of every subchart under its ``charts/`` (directories and archives, enabled or not). Each
annotation is YAML: a list of references, or of maps with ``image`` (``{name, image}``).

``images.from_values``: values paths (``nats.image``, ``configs.nats.versions``) read from
the chart's values as the default render sees them (defaults, subcharts' defaults,
``charts/<chart>.values.yaml``, ``--set``). At the path: a reference, an image map
(``{registry, repository, tag, digest}``), or a list or map holding those (inside a map,
keys ending in ``image``). A path that names no image in any chart is an error: init.sh
used to derive such lists, and dropping them silently would ship an image set short.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from clusterbuild.discover.line_scan import parse_lenient
from clusterbuild.discover.model import Hit
from clusterbuild.errors import InputError

ANNOTATIONS = ("images", "artifacthub.io/images", "helm.sh/images")
_CHART_FILE = re.compile(r"^(?:charts/[^/]+/)*Chart\.yaml$")
_NESTED_ARCHIVE = re.compile(r"^(?:charts/[^/]+/)*charts/[^/]+\.tgz$")
_TEMPLATED = re.compile(r"\{\{|\$\{")


def annotation_hits(path: Path, where: str) -> Iterator[Hit]:
    """Images listed in the annotations of the chart at ``path`` and its subcharts."""
    for name, text in chart_files(path):
        try:
            metadata = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            continue  # the chart loaded, so Helm read it; nothing to add here
        annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
        for key in ANNOTATIONS:
            if isinstance(annotations, Mapping) and isinstance(annotations.get(key), str):
                source = f"{where} ({name}, annotation {key})"
                for reference in _listed(annotations[key], source):
                    yield Hit(reference, source, rule="annotation")


def _listed(text: str, source: str) -> Iterator[Any]:
    try:
        entries = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: not a YAML list ({str(exc).splitlines()[0]})",
                         hint="turn images.from_annotations off, or fix the chart's annotation") from None
    for entry in entries if isinstance(entries, list) else []:
        named = entry.get("image") if isinstance(entry, Mapping) else entry
        reference = parse_lenient(named.strip()) if isinstance(named, str) else None
        if reference is not None:
            yield reference


def chart_files(path: Path) -> Iterator[tuple[str, bytes]]:
    """(chart-relative path, content) of the Chart.yaml of a chart and of its subcharts;
    a subchart archive's files are named ``charts/x.tgz/Chart.yaml``."""
    if path.is_file():
        yield from _archive_files(path.read_bytes(), "")
        return
    for directory, _, names in os.walk(path):
        relative = Path(directory).relative_to(path).as_posix().removeprefix(".").lstrip("/")
        for name in sorted(names):
            key = f"{relative}/{name}" if relative else name
            if _CHART_FILE.match(key):
                yield key, (path / key).read_bytes()
            elif _NESTED_ARCHIVE.match(key):
                yield from _archive_files((path / key).read_bytes(), f"{key}/")


def _archive_files(data: bytes, prefix: str) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar.getmembers():
            inner = member.name.partition("/")[2]
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is None:
                continue
            if _CHART_FILE.match(inner):
                yield f"{prefix}{inner}", handle.read()
            elif _NESTED_ARCHIVE.match(inner):
                yield from _archive_files(handle.read(), f"{prefix}{inner}/")


def values_hits(values: Mapping[str, Any], paths: tuple[str, ...], where: str) -> Iterator[tuple[str, Hit]]:
    """(path, hit) of the images at each values path of ``values`` (a chart's coalesced values)."""
    for dotted in paths:
        value: Any = values
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        for reference in _images_in(value):
            yield dotted, Hit(reference, f"{where} (values {dotted})", rule="values path")


def _images_in(value: Any) -> Iterator[Any]:
    if isinstance(value, str):
        reference = parse_lenient(value.strip()) if not _TEMPLATED.search(value) else None
        if reference is not None:
            yield reference
    elif isinstance(value, list):
        for item in value:
            yield from _images_in(item)
    elif isinstance(value, Mapping):
        composed = compose_image(value)
        if composed:
            yield from _images_in(composed)
            return
        for key, item in value.items():
            if str(key).lower().endswith("image") or isinstance(item, Mapping | list):
                yield from _images_in(item)


def compose_image(fields: Mapping[str, Any]) -> str:
    """``registry/repository:tag@digest`` of an image map; "" without a repository."""
    repository = fields.get("repository")
    if not isinstance(repository, str) or not repository or _TEMPLATED.search(repository):
        return ""
    registry = fields.get("registry")
    text = f"{registry.rstrip('/')}/{repository}" if isinstance(registry, str) and registry else repository
    if fields.get("tag") not in (None, ""):
        text += f":{fields['tag']}"
    if isinstance(fields.get("digest"), str) and fields["digest"]:
        text += f"@{fields['digest']}"
    return text
