"""Charts under ``charts/``: rendered like sealos renders them, then scanned.

Each first-level directory of ``charts/`` and each first-level ``*tgz`` is a chart
(as sealos reads them). Values: the chart's defaults plus the optional sibling
``charts/<chart name>.values.yaml``; release ``dryrun`` with namespace "" and
IsInstall false, as sealos (``release``; full mode may set both); hooks and NOTES.txt
included; subcharts in the chart's own ``charts/`` rendered as their ``condition``/``tags`` say.

    sealos mode   one render (the defaults), sealos' line scan of every template
    full mode     line scan + YAML walk of that render, of a render with the
                  ``helm_set`` values over it, and of one render per profile
                  (over the defaults and ``helm_set``; see ``profiles``); the images
                  the chart lists (``chart_lists``) when asked

Sources read ``charts/web (templates/deployment.yaml:12, release dryrun)`` and the hit's
rule says how it was found; the label is ``--set`` or ``profile <name>`` for the extra renders.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterbuild.discover.chart_lists import annotation_hits, values_hits
from clusterbuild.discover.helm_opts import merge_values, values_from_flags
from clusterbuild.discover.helm_render import check_dependencies, load_chart, render_chart, value_parsers
from clusterbuild.discover.line_scan import scan_lines
from clusterbuild.discover.model import DiscoverOptions, Hit
from clusterbuild.discover.profiles import ChartShape, profile_values
from clusterbuild.discover.release import Release, release_chart
from clusterbuild.discover.yaml_walk import walk_text
from clusterbuild.errors import InputError

if TYPE_CHECKING:
    import helm_python

CHARTS_DIR = "charts/"
DEFAULT_LABEL = "release dryrun"
PROFILE_LABEL = "profile "
NOTES = "NOTES.txt"
ValueSet = tuple[str, dict[str, Any]]  # (label, values over the chart's own)


@dataclass(frozen=True)
class ChartSource:
    where: str  # context path: charts/web or charts/web-1.0.tgz
    keys: tuple[str, ...]  # context paths of its files (the archive itself for a .tgz)

    @property
    def is_archive(self) -> bool:
        return self.where.endswith("tgz")


def find_charts(context: Mapping[str, Path]) -> list[ChartSource]:
    """First-level ``charts/<dir>`` and ``charts/*tgz`` entries, sorted by path."""
    entries: dict[str, list[str]] = {}
    for key in context:
        first, slash, _ = key.removeprefix(CHARTS_DIR).partition("/")
        if key.startswith(CHARTS_DIR) and (slash or first.endswith("tgz")):
            entries.setdefault(CHARTS_DIR + first, []).append(key)
    return [ChartSource(where, tuple(sorted(keys))) for where, keys in sorted(entries.items())]


@dataclass(frozen=True)
class RenderJob:
    chart: ChartSource
    path: Path  # a local directory or archive holding exactly the chart's files (release applied)
    label: str
    values: dict[str, Any]
    loaded: helm_python.Chart | None = None  # loaded already (for its name), not yet rendered


@dataclass(frozen=True)
class ChartPlan:
    jobs: list[RenderJob]
    listed: list[tuple[str, Hit]]  # (why: "annotation" or the values path, hit)


def chart_hits(context: Mapping[str, Path], options: DiscoverOptions,
               warnings: list[str] | None = None) -> list[Hit]:
    """Every hit of every chart and render, in chart then render order.

    Renders run on a thread per core (helm_python releases the GIL while rendering).
    With ``warnings``, a value profile that does not render is a warning appended there
    (the chart's other renders still count); without, it is an error like any render.
    """
    charts = find_charts(context)
    full = options.mode == "full"
    if not charts:
        if full and options.from_values:
            raise InputError(f"images.from_values: {options.from_values[0]}: the build context has no chart",
                             hint="from_values reads the values of the charts under charts/")
        return []
    overrides = values_from_flags(options.helm_set, context, value_parsers()) \
        if full and options.helm_set else {}
    release = Release(options.namespace, options.is_install)
    renders = 1 + (1 if overrides else 0) + (len(options.profiles) if full else 0)
    workers = min(os.cpu_count() or 1, len(charts) * renders)
    with tempfile.TemporaryDirectory(prefix="clusterbuild-charts-") as scratch, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        def plan(chart: ChartSource) -> ChartPlan:
            path = release_chart(chart_path(chart, context, Path(scratch)), Path(scratch), release)
            loaded = load_chart(path, chart.where)
            check_dependencies(path, chart.where, loaded)
            base = _sibling_values(loaded.name, context)
            listed = _listed_hits(chart, path, loaded, merge_values(base, overrides), options) if full else []
            jobs = [RenderJob(chart, path, label, merge_values(base, extra), None if number else loaded)
                    for number, (label, extra) in enumerate(_value_sets(loaded, options, overrides))]
            return ChartPlan(jobs, listed)

        def run(job: RenderJob) -> list[Hit]:
            try:
                return list(_scan_render(job, options, release))
            except InputError as exc:
                if warnings is None or not job.label.startswith(PROFILE_LABEL):
                    raise
                warnings.append(f"{exc.message} (the images of the chart's other renders are "
                                "still shipped)")
                return []

        each: Callable[..., Iterable[Any]] = pool.map if workers > 1 else map
        plans = list(each(plan, charts))
        _check_values_paths(options, plans)
        listed = [hit for chart_plan in plans for _, hit in chart_plan.listed]
        jobs = [job for chart_plan in plans for job in chart_plan.jobs]
        return [hit for hits in each(run, jobs) for hit in hits] + listed


def _value_sets(loaded: helm_python.Chart, options: DiscoverOptions,
                overrides: dict[str, Any]) -> list[ValueSet]:
    """(label, values over the chart's own) of each render."""
    sets: list[ValueSet] = [(DEFAULT_LABEL, {})]
    if options.mode == "sealos":
        return sets
    if overrides:
        sets.append(("--set", overrides))
    if options.profiles:
        shape = ChartShape.of(loaded.metadata or {}, [str(d.get("name")) for d in loaded.dependencies or []])
        for name in sorted(options.profiles):
            sets.append((f"{PROFILE_LABEL}{name}",
                         merge_values(overrides, profile_values(options.profile(name), shape))))
    return sets


def _listed_hits(chart: ChartSource, path: Path, loaded: helm_python.Chart, base: dict[str, Any],
                 options: DiscoverOptions) -> list[tuple[str, Hit]]:
    listed: list[tuple[str, Hit]] = []
    if options.from_annotations:
        listed += [("annotation", hit) for hit in annotation_hits(path, chart.where)]
    if options.from_values:
        listed += list(values_hits(loaded.merge_values(base), options.from_values, chart.where))
    return listed


def _check_values_paths(options: DiscoverOptions, plans: list[ChartPlan]) -> None:
    found = {why for chart_plan in plans for why, _ in chart_plan.listed}
    for dotted in options.from_values if options.mode == "full" else ():
        if dotted not in found:
            raise InputError(f"images.from_values: {dotted} names no image in the values of any chart",
                             hint="give the values path of an image (a reference, or a map with "
                                  "repository and tag), e.g. nats.image, or remove it")


def _scan_render(job: RenderJob, options: DiscoverOptions, release: Release) -> Iterator[Hit]:
    loaded = job.loaded if job.loaded is not None else load_chart(job.path, job.chart.where)
    rendered = render_chart(loaded, job.values, where=job.chart.where, label=job.label,
                            kube_version=options.kube_version, release=release)
    for template, text in rendered.items():
        where = (f"{job.chart.where} ({template}", f", {job.label})")
        yield from scan_lines(text, where)
        if options.mode == "full" and not template.endswith(NOTES):
            yield from walk_text(text, where, strict=False)


def _sibling_values(name: str, context: Mapping[str, Path]) -> dict[str, Any]:
    """``charts/<chart name>.values.yaml``, read as Helm reads ``-f`` files."""
    key = f"{CHARTS_DIR}{name}.values.yaml"
    if key not in context:
        return {}
    return values_from_flags(("-f", key), context, value_parsers())


def chart_path(chart: ChartSource, context: Mapping[str, Path], scratch: Path) -> Path:
    """A local path holding exactly the chart's context files: its own directory when
    that is so, else a copy under ``scratch``."""
    if chart.is_archive:
        return context[chart.where]
    if f"{chart.where}/Chart.yaml" not in context:
        raise InputError(f"{chart.where}: a directory of charts/ without Chart.yaml",
                         hint="each first-level directory of charts/ must be a Helm chart")
    prefix = f"{chart.where}/"
    wanted = {key.removeprefix(prefix): context[key] for key in chart.keys}
    root = context[f"{chart.where}/Chart.yaml"].parent
    if all(path == root / name for name, path in wanted.items()) and _files_under(root) == set(wanted):
        return root
    target = scratch / chart.where
    for name, path in wanted.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / name)
    return target


def _files_under(root: Path) -> set[str]:
    found: set[str] = set()
    for directory, _, names in os.walk(root):
        relative = Path(directory).relative_to(root)
        found.update((relative / name).as_posix() for name in names)
    return found
