"""Text inputs that name ``images.read`` values: written once the other inputs are in the
build context, as an init.sh writes an image list after reading a tag out of a chart.

A ``text`` input whose template names ``read.<name>`` is not a remote input (its content is
not known when the inputs are pinned): each platform's build renders it with the values read
out of that build's context, stores the bytes as a blob and places it at its ``dest``.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import replace
from typing import Any

from clusterbuild.cache.store import BlobStore
from clusterbuild.kubefile.context import ContextFile
from clusterbuild.oci.filetree import EntryKind, FileEntry
from clusterbuild.plan.planner import PlatformBuild
from clusterbuild.schema.models import TextInput
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


def late_dest(ws: LoadedWorkspace, av: AppVersion, n: int, item: TextInput, variables: dict[str, Any]) -> str:
    return posixpath.normpath(render(item.dest, variables, av.spec_path, f"inputs[{n}].dest"))


def with_late_texts(ws: LoadedWorkspace, av: AppVersion, build: PlatformBuild, store: BlobStore
                    ) -> PlatformBuild:
    """``build`` with its late text inputs placed (rendered with the reads of its context)."""
    from clusterbuild.workspace.scanning import read_values, text_reader

    texts = [(n, item) for n, item in late_texts(av)
             if item.platforms is None or str(build.platform) in item.platforms]
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
