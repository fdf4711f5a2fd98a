"""``helm template ... > manifests/x.yaml`` (and ``helm template ... | grep image: > images/shim/x``):
a chart rendered only so that the image scan of sealos finds what the ``--set`` values switch on.

The image scan renders every chart of ``charts/`` itself, so a render with the defaults is not
needed, and one with ``--set`` values is an image profile (``images.profiles``) with those
values. That is exact only when the image does not ship the rendered file, and only for a chart
of ``charts/``: the scan renders no other. A render into a file the image ships, or of a chart
outside ``charts/`` that the build context holds (a chart input's directory, a committed chart),
is a ``render`` input instead (``render_fields``): the chart rendered into that file in each build,
as ``helm template`` prints it. A render of a repository chart, or into an image list through a
pipeline, stays to do by hand.
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
    args: tuple[str, ...] = ()  # the words after ``template``, expanded (templates for build-time values)

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


_RENDER_FLAGS = ("debug", "create-namespace")  # no effect on what helm template prints
_RENDER_VALUES = {"set": "set", "f": "values_files", "values": "values_files"}


def render_fields(args: list[str], chart: str, target: str) -> dict[str, Any] | str:
    """The ``render`` input that ``helm template ARGS > target`` is (``args``: its words after
    ``template``, expanded; ``chart``: the chart's path), or why there is none."""
    from clusterbuild.importer.options import HELM_TEMPLATE, parse_options

    opts = parse_options(args, HELM_TEMPLATE)
    other = sorted({*(f for f in opts.flags if f not in _RENDER_FLAGS),
                    *(v for v in opts.values if v not in (*_RENDER_VALUES, "namespace"))})
    if other:
        return f"renders a chart with --{other[0]}, which a render input does not take: keep the " \
            "rendered file"
    if len(opts.args) not in (1, 2):
        return "renders a chart named by more than a release name and a chart"
    fields: dict[str, Any] = {"kind": "render", "chart": chart}
    if len(opts.args) == 2:
        fields["release"] = opts.args[0]
    if opts.values.get("namespace"):
        fields["namespace"] = opts.values["namespace"]
    i = 0
    while i < len(args):  # every --set and -f, in order (parse_options keeps the last)
        name, equals, inline = args[i].lstrip("-").partition("=")
        if args[i].startswith("-") and name in _RENDER_VALUES:
            value = inline if equals else (args[i + 1] if i + 1 < len(args) else "")
            fields.setdefault(_RENDER_VALUES[name], []).append(value)
            i += 1 if equals else 2
            continue
        i += 1
    fields["dest"] = target
    return fields
