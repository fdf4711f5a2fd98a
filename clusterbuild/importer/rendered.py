"""``helm template ... > manifests/x.yaml`` (and ``helm template ... | grep image: > images/shim/x``):
a chart rendered only so that the image scan of sealos finds what the ``--set`` values switch on.

The image scan renders every chart of ``charts/`` itself, so a render with the defaults is not
needed, and one with ``--set`` values is an image profile (``images.profiles``) with those
values. That is exact only when the image does not ship the rendered file (when the Kubefile
copies it, the line stays to do by hand), and only for a chart of ``charts/``: the scan renders
no other, so the images of a render of ``chart/x`` or of a repository chart stay to do by hand.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Any

from clusterbuild.importer.values import Origin

TEMPLATE_VALUE_OPTIONS = ("--set", "--set-string", "-f", "--values", "-n", "--namespace", "--version",
                          "--kube-version", "--api-versions", "-a", "--name-template", "--set-file",
                          "--set-json", "--output-dir", "--repo", "--post-renderer")


@dataclass(frozen=True)
class Rendered:
    """A chart the script renders into ``target``, with the values it sets."""

    target: str
    values: dict[str, Any]
    origin: Origin
    chart: str  # the chart's directory, or a repository chart's reference

    @property
    def scanned(self) -> bool:
        """Is the chart one the image scan renders (a first-level directory of charts/)?"""
        return posixpath.dirname(self.chart) == "charts"


def parse_set(pairs: str, into: dict[str, Any], string: bool = False) -> None:
    """Helm's ``--set a.b=1,c=x`` into nested values (scalars typed as Helm types them)."""
    for pair in re.split(r"(?<!\\),", pairs):
        key, equals, raw = pair.partition("=")
        if not equals or not key or "[" in key:
            raise ValueError(f"--set {pair!r} is not key=value")
        value: Any = raw.replace("\\,", ",")
        if not string:
            value = _typed(value)
        node = into
        parts = re.split(r"(?<!\\)\.", key)
        for part in parts[:-1]:
            node = node.setdefault(part.replace("\\.", "."), {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {key}: {part} is set twice")
        node[parts[-1].replace("\\.", ".")] = value


def _typed(raw: str) -> Any:
    if raw in ("true", "false"):
        return raw == "true"
    if raw == "null":
        return None
    if re.fullmatch(r"-?[1-9]\d{0,17}|0", raw):
        return int(raw)
    return raw


def template_values(args: list[str], chart_values: str) -> dict[str, Any] | str:
    """The values a ``helm template`` sets, from its words after ``template`` (already expanded);
    or why they cannot be read. ``-f`` of the chart's own values.yaml is its defaults."""
    values: dict[str, Any] = {}
    i = 0
    while i < len(args):
        word = args[i]
        name, equals, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        valued = name in ("--set", "--set-string", "-f", "--values")
        if valued or (name in TEMPLATE_VALUE_OPTIONS and not equals):
            value = inline if equals else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if equals else 2
            if name in ("--set", "--set-string"):
                try:
                    parse_set(value, values, string=name == "--set-string")
                except ValueError as e:
                    return str(e)
            elif name in ("-f", "--values") and posixpath.normpath(value) != chart_values:
                return f"renders with the values file {value}: add its values as an image profile"
            continue
        i += 1
    return values


def ships(recipe: str, target: str) -> bool:
    """Does the Kubefile text ``recipe`` COPY (or ADD) ``target`` into the image?"""
    for line in recipe.splitlines():
        words = line.strip().split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        with contextlib.suppress(ValueError):
            words = shlex.split(line.strip())
        sources = [w for w in words[1:-1] if not w.startswith("--")]
        for source in sources:
            src = posixpath.normpath(source.lstrip("/")) if source not in (".", "./") else "."
            if src == "." or target == src or target.startswith(src.rstrip("/") + "/") or "*" in src:
                return True
    return False
