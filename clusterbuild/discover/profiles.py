"""Value profiles: extra renders that turn on what a chart's defaults leave off.

A profile is values (``{worker: {enabled: true}}``), optionally over a built-in profile,
optionally repeated under each dependency's name (``subcharts``), because a subchart
reads its switches under its own name (``postgresql.metrics.enabled``):

    optional-features   the switches charts commonly gate extra images behind: metrics
                        exporters, volume-permission and sysctl init containers, sidecars,
                        chown init containers (``OPTIONAL_FEATURES``)
    all-subcharts       every dependency's ``condition`` true and every ``tags`` entry true

    profile_values(Profile(builtin="optional-features", subcharts=True), chart)
      -> {metrics: {enabled: true}, …, postgresql: {metrics: {enabled: true}, …}}

A key a chart does not have is ignored by the chart; a profile whose render fails is a
warning, and the chart's other renders still count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clusterbuild.discover.helm_opts import merge_values
from clusterbuild.discover.model import Profile

_ON = {"enabled": True}
OPTIONAL_FEATURES: dict[str, Any] = {
    "metrics": _ON,
    "exporter": _ON,
    "volumePermissions": _ON,
    "defaultInitContainers": {"volumePermissions": _ON, "prepareConfig": _ON},
    "sysctl": _ON,
    "sysctlImage": _ON,
    "initSysctl": _ON,
    "initChownData": _ON,
    "initContainer": _ON,
    "sidecar": _ON,
}


@dataclass(frozen=True)
class ChartShape:
    """What a profile needs to know about a chart: its dependencies (Chart.yaml entries)
    and the names its subcharts' values live under (alias, else name)."""

    dependencies: Sequence[Mapping[str, Any]]
    subchart_names: tuple[str, ...]

    @classmethod
    def of(cls, metadata: Mapping[str, Any], loaded_names: Sequence[str]) -> ChartShape:
        declared = [d for d in metadata.get("dependencies") or [] if isinstance(d, Mapping)]
        names = {str(d.get("alias") or d.get("name")) for d in declared if d.get("alias") or d.get("name")}
        return cls(tuple(declared), tuple(sorted(names | set(loaded_names))))


def _all_subcharts(chart: ChartShape) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for dependency in chart.dependencies:
        for path in str(dependency.get("condition") or "").split(","):
            if path.strip():
                values = merge_values(values, _at(path.strip().split("."), True))
        for tag in dependency.get("tags") or []:
            values = merge_values(values, {"tags": {str(tag): True}})
    return values


BUILTIN: dict[str, Callable[[ChartShape], dict[str, Any]]] = {
    "optional-features": lambda chart: OPTIONAL_FEATURES,
    "all-subcharts": _all_subcharts,
}


def profile_values(profile: Profile, chart: ChartShape) -> dict[str, Any]:
    """The values ``profile`` renders ``chart`` with (over the defaults and ``--set``)."""
    values: dict[str, Any] = {}
    if profile.builtin:
        values = dict(BUILTIN[profile.builtin](chart))
    values = merge_values(values, profile.values)
    if profile.subcharts:
        own = {key: value for key, value in values.items()
               if key not in chart.subchart_names and key not in ("tags", "global")}
        repeated = {name: own for name in chart.subchart_names}
        values = merge_values(values, repeated)
    return values


def _at(path: list[str], value: object) -> dict[str, Any]:
    return {path[0]: _at(path[1:], value) if len(path) > 1 else value}
