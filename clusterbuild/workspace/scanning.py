"""Which images an app version ships: the scan step, computed while planning.

Scanning reads only local files (charts, manifests, image lists), so ``plan``
can run it and show every pull; a recorded result with the same key is reused.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
from collections.abc import Callable
from itertools import pairwise
from typing import Any, Protocol

import yaml
from pydantic import BaseModel

from clusterbuild.errors import ConfigError
from clusterbuild.kubefile.evaluate import BuildRecipe
from clusterbuild.oci.filetree import EntryKind
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference, ReferenceError
from clusterbuild.plan.planner import AppImages, PlatformBuild
from clusterbuild.plan.results import ScanResult, ShippedImage, StepResult
from clusterbuild.plan.sources import scan_step
from clusterbuild.plan.steps import ScanStep, Step
from clusterbuild.workspace.load import AppVersion, LoadedWorkspace
from clusterbuild.workspace.prepare import template_variables
from clusterbuild.workspace.templates import render

SCANNED = ("charts/", "manifests/", "images/")
IGNORE_FILE = ".sealignore"


class ScanRecords(Protocol):
    """Where scan results are remembered (the cache), so an unchanged app is not scanned again."""

    def result(self, step: Step) -> StepResult | None: ...
    def record(self, step: Step, result: StepResult) -> None: ...


def _options(av: AppVersion, recipe: BuildRecipe, variables: dict[str, Any]) -> Any:
    from clusterbuild.discover import DiscoverOptions, helm_opts_from_env

    spec = av.spec.images
    profiles = _profiles(_rendered_values(spec.profiles, variables, av, "images.profiles"))
    return DiscoverOptions(mode="sealos" if spec.discover == "sealos" else "full",
                           keep_digests=spec.keep_digests, profiles=profiles,
                           helm_set=helm_opts_from_env(dict(recipe.env)),
                           namespace=spec.namespace, is_install=spec.is_install,
                           from_annotations=spec.from_annotations, from_values=tuple(spec.from_values))


def _rendered_values(value: Any, variables: dict[str, Any], av: AppVersion, field: str) -> Any:
    """``value`` with each string in it rendered (a profile's ``image.tag: "{{ version }}"``)."""
    if isinstance(value, str):
        return render(value, variables, av.spec_path, field)
    if isinstance(value, dict):
        return {k: _rendered_values(v, variables, av, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_rendered_values(v, variables, av, f"{field}[{n}]") for n, v in enumerate(value)]
    if isinstance(value, BaseModel):
        rendered = _rendered_values(value.model_dump(exclude_defaults=True), variables, av, field)
        return type(value).model_validate(rendered)
    return value


def _profiles(profiles: dict[str, Any]) -> dict[str, Any]:
    """The spec's profiles as discovery's: a built-in's name, {use, values, subcharts}, or values."""
    from clusterbuild.discover import Profile
    from clusterbuild.schema.models import ProfileSpec

    out: dict[str, Any] = {}
    for name, profile in profiles.items():
        if isinstance(profile, str):
            out[name] = Profile(builtin=profile)
        elif isinstance(profile, ProfileSpec):
            out[name] = Profile(values=profile.values, builtin=profile.use or "", subcharts=profile.subcharts)
        else:
            out[name] = profile
    return out


def _values_files(helm_set: tuple[str, ...]) -> list[str]:
    """Context files named by -f/--values in the install command's Helm options."""
    out = []
    for flag, value in pairwise(helm_set):
        if flag in ("-f", "--values"):
            out.append(value.removeprefix("./"))
    return out


def _scan_step(av: AppVersion, build: PlatformBuild, options: Any,
               extra: list[ShippedImage]) -> tuple[ScanStep, dict[str, Any]]:
    from clusterbuild.discover import ENGINE_VERSION

    values_files = set(_values_files(options.helm_set)) if options is not None else set()
    files = {path: item for path, item in build.context.files.items()
             if options is not None and item.entry.kind is EntryKind.FILE and item.source is not None
             and (path.startswith(SCANNED) or path == IGNORE_FILE or path in values_files)}
    settings = {"discover": av.spec.images.discover, "exclude": av.spec.images.exclude,
                "extra": [i.to_json() for i in extra],
                "options": options.fingerprint() if options is not None else None}
    step = scan_step(av.app, av.version, av.platforms,
                     tuple(sorted((p, str(f.entry.digest)) for p, f in files.items())),
                     json.dumps(settings, sort_keys=True), ENGINE_VERSION)
    return step, {p: f.source for p, f in files.items()}


def _extra(ws: LoadedWorkspace, av: AppVersion, build: PlatformBuild) -> list[ShippedImage]:
    return shipped_extra(ws, av, build.platform, text_reader(build))


def text_reader(build: PlatformBuild) -> Callable[[str], str | None]:
    """The text of a file of ``build``'s context (None: no such file)."""
    def text_of(path: str) -> str | None:
        item = build.context.files.get(path)
        if item is None or item.source is None or item.entry.kind is not EntryKind.FILE:
            return None
        return item.source.read_text(encoding="utf-8", errors="replace")
    return text_of


def shipped_extra(ws: LoadedWorkspace, av: AppVersion, platform: Platform,
                  text_of: Callable[[str], str | None] | None = None) -> list[ShippedImage]:
    """``images.extra`` of ``av`` for ``platform``: rendered (with ``images.read`` evaluated on
    the files ``text_of`` gives; placeholders without it, for the offline check), each word a
    valid reference."""
    variables: dict[str, Any] = dict(template_variables(ws, av, platform))
    variables["read"] = read_values(av, variables, text_of)
    out = []
    for n, text in enumerate(av.spec.images.extra):
        field = f"images.extra[{n}]"
        rendered = render(text, variables, av.spec_path, field)
        for value in rendered.split() if "read." in text else [rendered]:
            try:
                ref = Reference.parse(value)
            except ReferenceError as exc:
                raise ConfigError(av.spec_path, field, str(exc),
                                  hint="e.g. docker.io/library/nginx:1.27") from None
            out.append(ShippedImage(str(ref.tagged()), (f"clusterbuild.yaml {field}",)))
    return out


PLACEHOLDER = "unread"  # what a read is worth before its file is fetched (the offline check)


def read_values(av: AppVersion, variables: dict[str, Any],
                text_of: Callable[[str], str | None] | None) -> dict[str, str]:
    """``images.read``, each value read out of its file (``fetch.textread``)."""
    from clusterbuild.fetch.textread import UnsupportedRead, parse_run, read_yq

    values: dict[str, str] = {}
    for name, spec in av.spec.images.read.items():
        field = f"images.read.{name}"
        path = posixpath.normpath(render(spec.file, variables, av.spec_path, f"{field}.file"))
        run = render(spec.run, variables, av.spec_path, f"{field}.run") if spec.run is not None else None
        if text_of is None:
            values[name] = PLACEHOLDER
            continue
        text = text_of(path)
        if text is None:
            raise ConfigError(av.spec_path, f"{field}.file", f"{path} is not a file of the build context",
                              hint="name a file an input places (charts/<name>/values.yaml, a "
                              "manifest) or one of the app dir")
        try:
            value = read_yq(text, spec.yq) if spec.yq is not None else parse_run(str(run)).apply(text)
        except (UnsupportedRead, yaml.YAMLError) as exc:
            raise ConfigError(av.spec_path, field, f"reading {path}: {exc}",
                              hint="fix the yq path or the filters") from None
        values[name] = value.rstrip("\n")
    return values


def _merge(found: list[ShippedImage], exclude: list[str]) -> tuple[ShippedImage, ...]:
    merged: dict[str, set[str]] = {}
    for item in found:
        if not any(fnmatch.fnmatchcase(item.reference, pattern) for pattern in exclude):
            merged.setdefault(item.reference, set()).update(item.sources)
    return tuple(ShippedImage(ref, tuple(sorted(src))) for ref, src in sorted(merged.items()))


def _discover(av: AppVersion, paths: dict[str, Any], options: Any,
              extra: list[ShippedImage]) -> ScanResult:
    found = extra[:]
    warnings: list[str] = []
    if options is not None:
        from clusterbuild.discover import discover_images

        found += [ShippedImage(str(f.reference), tuple(f.sources))
                  for f in discover_images(paths, options, warnings)]
    return ScanResult(_merge(found, av.spec.images.exclude),
                      tuple(f"{av.name}: {w}" for w in sorted(warnings)))


def scan_app(ws: LoadedWorkspace, av: AppVersion, build: PlatformBuild,
             records: ScanRecords, remember_all: bool = True) -> AppImages:
    """The scan step of ``av`` (read from ``build``, its first platform) and what it found:
    the recorded result when nothing it reads changed, else a new scan, recorded (a scan
    that read nothing only with ``remember_all``: ``plan`` keeps such a cache untouched)."""
    variables = template_variables(ws, av, build.platform)
    options = _options(av, build.recipe, variables) if av.spec.images.discover != "off" else None
    extra = _extra(ws, av, build)
    step, paths = _scan_step(av, build, options, extra)
    result = records.result(step)
    if not isinstance(result, ScanResult):
        result = _discover(av, paths, options, extra)
        if options is not None or remember_all:
            records.record(step, result)
    return AppImages(step, result, av.spec.images.all_platforms, av.spec.images.charts_as_oci)
