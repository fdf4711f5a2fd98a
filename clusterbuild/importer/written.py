"""Files a script writes itself (``cat <<EOF > Kubefile``, ``echo ... > install.sh``), kept as
files of the app dir by the conversion.

A file written from literal text is that text. A Kubefile (or Sealfile, Dockerfile,
Containerfile) written with the script's variables keeps them as build arguments: each
expression becomes ``${NAME}`` of an ``ARG NAME`` declared before and after every ``FROM``,
with ``build_args: {NAME: "{{ expression }}"}`` in the spec, so the same Kubefile serves every
version and platform. CMD and ENTRYPOINT are not expanded by a Kubefile build, so a variable in
them (and any other file written with the script's variables) make the file a ``text`` input,
rendered for each version and platform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from clusterbuild.importer.values import Expr, Origin, Text

RECIPES = ("Kubefile", "Sealfile", "Dockerfile", "Containerfile")
_RUNTIME = re.compile(r"^\s*(CMD|ENTRYPOINT)\b", re.IGNORECASE)
_FROM = re.compile(r"^\s*FROM\b", re.IGNORECASE)


@dataclass
class Written:
    """A file the script writes: its text so far, and whether the first write appended."""

    path: str
    text: Text
    origins: list[Origin]
    append: bool = False  # the first write was >>: the committed file (if any) comes first
    mode: str | None = None
    listing: bool = False  # an image list (images/shim/): images.extra, unless the image ships it


@dataclass(frozen=True)
class Placed:
    """A written file as the conversion keeps it: content, and the build args it reads."""

    path: str
    content: str
    append: bool
    mode: str | None
    origins: tuple[Origin, ...]
    build_args: dict[str, str] = field(default_factory=dict)


def arg_name(code: str) -> str:
    """The build argument for a jinja expression: ``version | strip_v`` -> ``VERSION_STRIP_V``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", code).strip("_").upper() or "VALUE"


def place_written(written: Written, committed: str | None) -> Placed | dict[str, Any]:
    """The file to keep in the app dir; or, for one that holds build-time values, a text input
    (a Kubefile only when its CMD or ENTRYPOINT holds them: elsewhere they are build args)."""
    if written.text.is_literal:
        return Placed(written.path, written.text.literal or "", written.append, written.mode,
                      tuple(written.origins))
    recipe = _recipe(written) if written.path in RECIPES else None
    if isinstance(recipe, Placed):
        return recipe
    text = (Text.of(committed) if written.append and committed else Text.of()) + written.text
    fields: dict[str, Any] = {"kind": "text", "dest": written.path, "text": text.template()}
    if written.mode:
        fields["mode"] = written.mode
    return fields


def _recipe(written: Written) -> Placed | None:
    lines: list[list[str | Expr]] = [[]]
    for part in written.text.parts:
        pieces: list[str | Expr] = [part] if isinstance(part, Expr) else re.split(r"(\n)", part)
        for piece in pieces:
            if piece == "\n":
                lines.append([])
            elif piece != "":
                lines[-1].append(piece)
    args: dict[str, str] = {}
    out: list[str] = []
    for line in lines:
        text = "".join(p if isinstance(p, str) else "${" + arg_name(p.code) + "}" for p in line)
        exprs = [p for p in line if isinstance(p, Expr)]
        if exprs and _RUNTIME.match(text):
            return None  # a Kubefile does not expand CMD: the whole file is a text input
        args |= {arg_name(p.code): "{{ " + p.code + " }}" for p in exprs}
        out.append(text)
    declared = [f"ARG {name}" for name in sorted(args)]
    in_from = sorted({n for t in out if _FROM.match(t) for n in args if "${" + n + "}" in t})
    with_args = [f"ARG {name}" for name in in_from]  # global: what FROM reads
    for text in out:
        with_args += [text, *declared] if _FROM.match(text) else [text]
    if not any(_FROM.match(t) for t in out):
        with_args = [*declared, *with_args]
    return Placed(written.path, "\n".join(with_args), written.append, written.mode,
                  tuple(written.origins), args)
