"""The one adapter over ``helm_python`` (Helm's Go SDK over ctypes): load, check, render.

helm_python is large and loads a Go runtime, so it is imported only when a chart is
rendered. Its calls release the GIL. A loaded chart is *not* immutable: rendering
removes the subcharts the values disable, so every render loads the chart afresh
(and renders on different threads never share one). A process must not fork once
the library is loaded (the child hangs): parallel work uses threads, or processes
started with the ``spawn`` method.

Failures become one-line InputErrors that name the context path of the chart and,
for a template that fails, the template's line: ``charts/web/templates/x.yaml:3:6``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterbuild.discover.helm_opts import Parser
from clusterbuild.discover.model import plain
from clusterbuild.discover.release import SEALOS_RELEASE, Release
from clusterbuild.errors import InputError

if TYPE_CHECKING:
    import helm_python

BAD_DEPENDENCY = frozenset({"missing", "corrupt", "misnamed"})
_LOCATION = re.compile(r"\(?(?P<path>[^\s():]+/(?:templates|charts)/[^\s():]+?):(?P<pos>\d+(?::\d+)?)\)?:?")
_INSTALL_HINT = "pip install helm-python-sdk (the Helm SDK clusterbuild renders charts with)"


class RenderCount:
    """How many charts this process rendered (apply and images report it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


RENDERS = RenderCount()


def check_dependencies(path: Path, where: str, loaded: helm_python.Chart | None = None) -> None:
    """Declared dependencies missing from the chart's ``charts/`` would make its
    render silently empty: they are an error here. With the chart ``loaded`` already, a
    chart directory whose declared dependencies are all loaded subcharts (none from an
    archive, which could be corrupt or misnamed) needs no second look."""
    if loaded is not None and _all_unpacked_and_loaded(path, loaded):
        return
    helm = _library()
    try:
        dependencies = helm.dependency_list(path)
    except helm.HelmError as exc:
        raise _load_error(exc.detail, where) from None
    for dependency in dependencies:
        if dependency.get("status") in BAD_DEPENDENCY:
            raise _dependency_error(dependency, where)


def _all_unpacked_and_loaded(path: Path, loaded: helm_python.Chart) -> bool:
    if not path.is_dir() or any((path / "charts").glob("*.tgz")):
        return False
    declared = {d.get("name") for d in (loaded.metadata or {}).get("dependencies") or []}
    present = {d.get("name") for d in loaded.dependencies or []}
    return declared <= present


def load_chart(path: Path, where: str) -> helm_python.Chart:
    """The chart at ``path`` (a directory or ``.tgz``), loaded for one render."""
    helm = _library()
    try:
        chart: helm_python.Chart = helm.Chart.load(path)
    except helm.HelmError as exc:
        raise _load_error(exc.detail, where) from None
    return chart


def render_chart(chart: helm_python.Chart, values: Mapping[str, Any], *, where: str, label: str,
                 kube_version: str = "", release: Release = SEALOS_RELEASE) -> dict[str, str]:
    """``{template path within the chart: text}`` of a ``helm template``, hooks and
    NOTES.txt included (sealos scans NOTES.txt too), empty results dropped. Paths lose the
    chart-name prefix. ``release`` sets the SDK's options; the fields it cannot set were
    written into the chart already (``release.release_chart``).

    The chart is closed afterwards: a render drops the subcharts its values disable
    from the loaded chart, so a loaded chart is never rendered twice.
    """
    helm = _library()
    RENDERS.add()
    options = release.render_options()
    if kube_version:
        options["kube_version"] = kube_version
    with chart:
        try:  # Chart.render has no kube_version argument: the native call takes it
            rendered: dict[str, str] = json.loads(helm._native.call_string(
                "helm_render", chart._raw(), json.dumps(plain(values)), json.dumps(options)))
        except helm.HelmError as exc:
            raise _render_error(exc.detail, where, label) from None
    return {path.partition("/")[2]: text for path, text in sorted(rendered.items())
            if text.replace("\n", "").strip()}


def _load_error(detail: str, where: str) -> InputError:
    return InputError(f"{where}: not a Helm chart ({_one_line(detail)})",
                      hint="charts/ holds one chart per directory (with Chart.yaml) or .tgz")


def value_parsers() -> dict[str, Parser]:
    """Helm's own parsers for ``-f`` documents and the ``--set*`` flags."""
    helm = _library()
    return {"-f": helm.values_from_yaml, "--set": helm.parse_set_string,
            "--set-string": helm.parse_set_string_values, "--set-json": helm.parse_set_json,
            "--set-literal": helm.parse_set_literal}


def _library() -> Any:
    try:
        import helm_python
    except ImportError:
        raise InputError("rendering charts needs the helm-python-sdk package", hint=_INSTALL_HINT) from None
    return helm_python


def _dependency_error(dependency: Mapping[str, Any], where: str) -> InputError:
    name, version = dependency.get("name", "?"), dependency.get("version", "")
    repository = dependency.get("repository") or "a local path"
    status = dependency.get("status")
    return InputError(
        f"{where}/Chart.yaml: dependency {name} {version} from {repository} is {status} in {where}/charts/",
        hint=f"fetch it with `helm dependency build {where}` (e.g. in init.sh) before building")


def _render_error(detail: str, where: str, label: str) -> InputError:
    """``<context path>:<line>[:col]: chart does not render (<label>): <reason>``."""
    message = _one_line(detail)
    match = _LOCATION.search(message)
    location = where
    if match is not None:
        inner = match.group("path").partition("/")[2]
        position = match.group("pos")
        location = f"{where}/{inner}:{position}" if not where.endswith("tgz") else \
            f"{where} ({inner}:{position})"
        before = message[:match.start()].rstrip().removesuffix(" at")
        after = message[match.end():].strip(" :")
        message = f"{before}: {after}" if before else after
    return InputError(f"{location}: chart does not render ({label}): {message}",
                      hint="fix the template, or give the values it needs (charts/<chart>.values.yaml)")


def _one_line(text: str) -> str:
    return " ".join(text.split())
