"""Inputs written once the other inputs are in the build context: text inputs that name
``images.read`` values, as an init.sh writes an image list after reading a tag out of a chart,
``copy`` inputs (``cp -r charts/x/crds/* manifests/``), and ``render`` inputs, a chart of the
context rendered into a file (``helm template > x.yaml``).

Neither is a remote input (its content is not known when the inputs are pinned): each
platform's build renders it out of that build's context, stores the bytes as a blob and
places it at its ``dest``; texts first, then copies, then renders (a text may be a values file,
a copy may make a chart).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import replace
from typing import Any, TypeVar

from clusterbuild.cache.store import BlobStore
from clusterbuild.kubefile.context import ContextFile
from clusterbuild.oci.filetree import EntryKind, FileEntry
from clusterbuild.plan.planner import PlatformBuild
from clusterbuild.schema.models import CopyInput, RenderInput, TextInput
from clusterbuild.workspace.load import AppVersion, LoadedWorkspace
from clusterbuild.workspace.prepare import template_variables
from clusterbuild.workspace.templates import render

_READ = re.compile(r"\{[{%][^}]*\bread\.")


def names_reads(item: object) -> bool:
    """Is ``item`` a text input whose text names values read out of files?"""
    return isinstance(item, TextInput) and _READ.search(item.text) is not None


def late_texts(av: AppVersion) -> list[tuple[int, TextInput]]:
    return [(n, item) for n, item in enumerate(av.spec.inputs) if isinstance(item, TextInput)
            and names_reads(item)]


def late_dest(ws: LoadedWorkspace, av: AppVersion, n: int, item: TextInput | CopyInput | RenderInput,
              variables: dict[str, Any]) -> str:
    """Where ``inputs[n]`` places its file (its ``dest``, rendered)."""
    return posixpath.normpath(render(item.dest, variables, av.spec_path, f"inputs[{n}].dest"))


Derived = TypeVar("Derived", TextInput, CopyInput, RenderInput)


def _of_platform(items: list[tuple[int, Derived]], build: PlatformBuild) -> list[tuple[int, Derived]]:
    """The inputs of ``items`` that the build's platform has (all, or those naming it)."""
    return [(n, item) for n, item in items if item.platforms is None or str(build.platform) in item.platforms]


def renders(av: AppVersion) -> list[tuple[int, RenderInput]]:
    return [(n, item) for n, item in enumerate(av.spec.inputs) if isinstance(item, RenderInput)]


def with_derived(ws: LoadedWorkspace, av: AppVersion, build: PlatformBuild, store: BlobStore
                 ) -> PlatformBuild:
    """``build`` with its late text inputs, then its copies, then its renders, placed."""
    return with_renders(ws, av, with_copies(ws, av, with_late_texts(ws, av, build, store)), store)


def copies(av: AppVersion) -> list[tuple[int, CopyInput]]:
    return [(n, item) for n, item in enumerate(av.spec.inputs) if isinstance(item, CopyInput)]


def with_copies(ws: LoadedWorkspace, av: AppVersion, build: PlatformBuild) -> PlatformBuild:
    """``build`` with each ``copy`` input's files placed again at its ``dest``."""
    from clusterbuild.errors import ConfigError

    wanted = _of_platform(copies(av), build)
    if not wanted:
        return build
    variables = template_variables(ws, av, build.platform)
    for n, item in wanted:
        src = posixpath.normpath(render(item.src, variables, av.spec_path, f"inputs[{n}].src"))
        dest = late_dest(ws, av, n, item, variables)
        placed: dict[str, ContextFile] = {}
        for path, found in build.context.files.items():
            rel = "" if path == src else path[len(src) + 1:] if path.startswith(src + "/") else None
            if rel is None or (item.contents and (not rel or rel.startswith("."))):
                continue
            target = posixpath.join(dest, rel) if rel else dest
            placed[target] = replace(found, entry=replace(found.entry, path=target))
        if not placed:
            raise ConfigError(av.spec_path, f"inputs[{n}].src", f"{src} is not in the build context",
                              hint="name a file or directory an input places, or one of the app dir")
        build = replace(build, context=build.context.overlay(placed))
    return build


def with_renders(ws: LoadedWorkspace, av: AppVersion, build: PlatformBuild, store: BlobStore
                 ) -> PlatformBuild:
    """``build`` with each ``render`` input's file placed (its chart rendered out of the context)."""
    wanted = _of_platform(renders(av), build)
    if not wanted:
        return build
    variables: dict[str, Any] = dict(template_variables(ws, av, build.platform))
    for n, item in wanted:
        data = _render(av, n, item, variables, build).encode("utf-8")
        digest = store.put_bytes(data)
        dest = late_dest(ws, av, n, item, variables)
        entry = FileEntry(dest, EntryKind.FILE, 0o644, len(data), digest)
        build = replace(build, context=build.context.overlay({dest: ContextFile(entry, store.file(digest))}))
    return build


def _render(av: AppVersion, n: int, item: RenderInput, variables: dict[str, Any],
            build: PlatformBuild) -> str:
    """What ``helm template`` prints for the render input ``item`` (``inputs[n]``)."""
    import tempfile
    from pathlib import Path

    from clusterbuild.discover.charts import ChartSource, chart_path
    from clusterbuild.discover.helm_opts import values_from_flags
    from clusterbuild.discover.helm_render import value_parsers
    from clusterbuild.discover.helm_template import template_text
    from clusterbuild.errors import ClusterbuildError, ConfigError

    field = f"inputs[{n}]"
    chart = posixpath.normpath(render(item.chart, variables, av.spec_path, f"{field}.chart"))
    files = {p: f.source for p, f in build.context.files.items()
             if f.source is not None and f.entry.kind is EntryKind.FILE}
    keys = tuple(sorted(p for p in files if p.startswith(chart + "/")))
    if f"{chart}/Chart.yaml" not in files:
        raise ConfigError(av.spec_path, f"{field}.chart", f"{chart} is not a chart of the build context",
                          hint="name the directory a chart input unpacks into (charts/<name>) or a chart "
                          "of the app dir")
    flags: list[str] = []
    for m, name in enumerate(item.values_files):
        flags += ["-f", render(name, variables, av.spec_path, f"{field}.values_files[{m}]")]
    for m, expression in enumerate(item.set):
        flags += ["--set", render(expression, variables, av.spec_path, f"{field}.set[{m}]")]
    try:
        values = values_from_flags(tuple(flags), files, value_parsers())
        with tempfile.TemporaryDirectory(prefix="clusterbuild-render-") as scratch:
            path = chart_path(ChartSource(chart, keys), files, Path(scratch))
            return template_text(path, chart, name=item.release, namespace=item.namespace, values=values)
    except ClusterbuildError as exc:
        raise ConfigError(av.spec_path, field, f"rendering {chart}: {exc.message}", hint=exc.hint) from None


def with_late_texts(ws: LoadedWorkspace, av: AppVersion, build: PlatformBuild, store: BlobStore
                    ) -> PlatformBuild:
    """``build`` with its late text inputs placed (rendered with the reads of its context)."""
    from clusterbuild.workspace.scanning import read_values, text_reader

    texts = _of_platform(late_texts(av), build)
    if not texts:
        return build
    variables: dict[str, Any] = dict(template_variables(ws, av, build.platform))
    variables["read"] = read_values(av, variables, text_reader(build))
    placed: dict[str, ContextFile] = {}
    for n, item in texts:
        data = render(item.text, variables, av.spec_path, f"inputs[{n}].text").encode("utf-8")
        digest = store.put_bytes(data)
        dest = late_dest(ws, av, n, item, variables)
        mode = int(item.mode, 8) if item.mode else 0o644
        entry = FileEntry(dest, EntryKind.FILE, mode, len(data), digest)
        placed[dest] = ContextFile(entry, store.file(digest))
    return replace(build, context=build.context.overlay(placed))
