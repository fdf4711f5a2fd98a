"""What a shell word is worth without running the script: a jinja template, or unknown.

``$1``/``$ARCH`` become ``{{ arch }}``, ``$3``/``$VERSION`` ``{{ version }}``, ``${VERSION#v}``
``{{ version | strip_v }}``; literals stay literals. A value read from a command's output, the
environment or anything else the script cannot tell statically is ``Unknown`` with the reason.
Two values name what the catalogue's Helm idiom computes: ``HelmListing`` (the output of
``helm search repo --versions``) and ``ChartByApp`` (the chart version picked from it by app version).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ARCH = "arch"
ARCH_NAME = "arch_name"  # the architecture after a binary's arch_map
VERSION = "version"


@dataclass(frozen=True)
class Expr:
    """A jinja expression, e.g. ``version | strip_v``."""

    code: str


Part = str | Expr


@dataclass(frozen=True)
class Text:
    """Literal text and jinja expressions, concatenated."""

    parts: tuple[Part, ...]

    @staticmethod
    def of(*parts: Part) -> Text:
        merged: list[Part] = []
        for part in parts:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            elif part != "":
                merged.append(part)
        return Text(tuple(merged))

    def __add__(self, other: Text) -> Text:
        return Text.of(*self.parts, *other.parts)

    @property
    def literal(self) -> str | None:
        """The text when it holds no expression."""
        return "".join(p for p in self.parts if isinstance(p, str)) if self.is_literal else None

    @property
    def is_literal(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def template(self) -> str:
        """The jinja template (literal braces escaped)."""
        out = []
        for part in self.parts:
            if isinstance(part, Expr):
                out.append("{{ " + part.code + " }}")
            else:
                out.append(re.sub(r"\{[{%#]", lambda m: "{{ '" + m.group() + "' }}", part))
        return "".join(out)

    def uses(self, name: str) -> bool:
        return any(isinstance(p, Expr) and p.code.split(" ")[0] == name for p in self.parts)


@dataclass(frozen=True)
class Unknown:
    why: str


@dataclass(frozen=True)
class HelmListing:
    """The output of ``helm search repo --versions`` (a table of chart and app versions)."""


@dataclass(frozen=True)
class Origin:
    """A command of the script, for reports: its line, its text, and what it became."""

    line: int
    text: str
    detail: str = ""


@dataclass(frozen=True)
class ChartByApp:
    """The chart version whose appVersion matches ``app_version`` (the catalogue's grep idiom)."""

    app_version: Text
    origin: Origin | None = None


@dataclass(frozen=True)
class Read:
    """A value the script reads out of one of its files (``images.read.<name>``): usable in an
    image list only; elsewhere it is unknown (``why``) — unless the file is a download
    (``release``: the ``releases`` spec reading it at lock time, ``{{ releases.<name> }}``).
    ``scanned`` is False once the file is removed: the image scan cannot read it."""

    name: str
    why: str
    release: dict[str, str] | None = None
    file: str = ""
    scanned: bool = True


Value = Text | Unknown | HelmListing | ChartByApp | Read

def literal(text: str) -> Text:
    return Text.of(text)


def strip_v(value: Text) -> Value:
    """``${X#v}``: without a leading v (the ``strip_v`` filter for expressions)."""
    if value.is_literal:
        text = value.literal or ""
        return literal(text[1:] if text.startswith("v") else text)
    first = value.parts[0]
    if len(value.parts) == 1 and isinstance(first, Expr) and "|" not in first.code:
        return Text((Expr(f"{first.code} | strip_v"),))
    if isinstance(first, str):
        return Text.of(first[1:] if first.startswith("v") else first, *value.parts[1:])
    return Unknown("removes a v from a value only known at build time")
