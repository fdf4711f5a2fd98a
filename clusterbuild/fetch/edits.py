"""Declared edits of downloaded files, applied in the unpack step (so part of its key).

    entries = apply_edits(entries, [{"file": "manifests/olm.yaml", "kind": "sed",
                                     "expression": "s|olm:.*|olm:v0.25.0|g"}], store, what)

``sed``: the substitutions and line edits of ``fetch.sed`` (``extended: true`` for ``sed -E``).
``yq``: sets and deletes of ``fetch.yq`` (``.a.b = "x" | del(.c)``) on every document of the
file. Edits run in the order given; each file must be one of the input's files. The result is
a new blob in the store; the download itself is untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import yaml

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError, InputError
from clusterbuild.oci.filetree import EntryKind, FileEntry


def edit_text(text: str, kind: str, expression: str, extended: bool = False) -> str:
    from clusterbuild.fetch.sed import parse_sed
    from clusterbuild.fetch.values import edit_data
    from clusterbuild.fetch.yq import parse_edits

    if kind == "sed":
        return parse_sed(expression, extended).apply(text)
    edits = parse_edits(expression)
    documents = list(yaml.safe_load_all(text))
    for document in documents:
        if isinstance(document, dict):
            edit_data(document, edits.set, edits.delete)
    return yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, default_flow_style=False,
                              width=4096)


def apply_edits(entries: list[FileEntry], edits: Sequence[dict[str, Any]], store: BlobStore,
                what: str) -> list[FileEntry]:
    """``entries`` with the files named by ``edits`` replaced by their edited bytes."""
    from clusterbuild.fetch.sed import UnsupportedSed
    from clusterbuild.fetch.yq import UnsupportedEdit

    by_path = {e.path: n for n, e in enumerate(entries)}
    out = list(entries)
    for n, edit in enumerate(edits):
        index = by_path.get(edit["file"])
        entry = out[index] if index is not None else None
        if entry is None or entry.kind is not EntryKind.FILE or entry.digest is None:
            raise BuildError(f"{what}: edits[{n}]: {edit['file']} is not one of the input's files",
                             hint="name a file under the input's dest")
        try:
            text = store.read_bytes(entry.digest).decode("utf-8")
            edited = edit_text(text, edit["kind"], edit["expression"], bool(edit.get("extended")))
        except UnicodeDecodeError:
            raise BuildError(f"{what}: edits[{n}]: {edit['file']} is not text") from None
        except yaml.YAMLError as e:
            raise BuildError(f"{what}: edits[{n}]: {edit['file']} is not YAML ({type(e).__name__})",
                             hint="edit it with sed") from None
        except (UnsupportedSed, UnsupportedEdit) as e:
            raise InputError(f"{what}: edits[{n}].expression: {e}") from None
        data = edited.encode("utf-8")
        assert index is not None
        out[index] = replace(entry, size=len(data), digest=store.put_bytes(data))
    return out
