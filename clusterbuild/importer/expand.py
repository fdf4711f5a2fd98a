"""Expanding a raw shell word (quotes, ``$VAR``, ``${VAR:-x}``, ``${VAR#v}``, ...) to a ``Value``.

    expand_word('"${VERSION#v}"', scope)   # -> Text((Expr("version | strip_v"),))

Quotes are removed; parameter expansions read ``scope`` (variables and positional arguments);
pattern removal and substitution work on literal text, and ``#v`` on any value; command
substitution, arithmetic and special parameters (``$@``, ``$#``) are ``Unknown``. Words are
not split on blanks: the catalogue quotes what matters, and a guess would be worse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from clusterbuild.importer.lexer import (
    Unclosed,
    backtick_end,
    double_quoted_end,
    expansion_end,
    find_closing,
)
from clusterbuild.importer.values import Expr, Part, Read, Text, Unknown, Value, literal, strip_v

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d|[@*#?$!-]")
_PARAMETER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*|\d+)(.*)$", re.S)
_SINGLE = re.compile(r'^"?\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))"?$')


@dataclass(frozen=True)
class Scope:
    variables: Mapping[str, Value]
    positional: Sequence[Value]
    reads: bool = False  # values read out of files are {{ read.<name> }} (in image lists only)
    releases: MutableMapping[str, dict[str, str]] | None = None  # releases named: name -> spec

    def lookup(self, name: str) -> Value | None:
        if name.isdigit():
            index = int(name) - 1
            return self.positional[index] if 0 <= index < len(self.positional) else None
        return self.variables.get(name)


class _Unknowable(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def read_value(read: Read, scope: Scope) -> Text | Unknown:
    """A value read out of a file: ``{{ read.NAME }}`` in an image list (the scan reads the
    file), else ``{{ releases.NAME }}`` when the file is a download (read when locked)."""
    if scope.reads and read.scanned:
        return Text((Expr(f"read.{read.name}"),))
    if read.release is None or scope.releases is None:
        return Unknown(read.why)
    if scope.releases.setdefault(read.name, read.release) != read.release:
        return Unknown(f"{read.why}, and releases.{read.name} names another value")
    return Text((Expr(f"releases.{read.name}"),))


def expand_word(raw: str, scope: Scope) -> Value:
    """The value of the raw word ``raw``."""
    single = _SINGLE.match(raw)
    if single:
        name = single.group(1) or single.group(2)
        value = scope.lookup(name)
        if isinstance(value, Read):
            return read_value(value, scope)
        return value if value is not None else Unknown(f"${name} is not set by the script")
    return _scan(raw, scope, quotes=True)


def expand_here_document(body: str, scope: Scope) -> Text | Unknown:
    """The text of an unquoted here-document: expansions, but quotes are plain characters."""
    return _scan(body, scope, quotes=False)


def _scan(text: str, scope: Scope, quotes: bool) -> Text | Unknown:
    try:
        return Text.of(*_Scanner(text, scope).scan(quotes=quotes))
    except _Unknowable as e:
        return Unknown(e.why)
    except Unclosed as e:
        return Unknown(f"{e} is not closed")


class _Scanner:
    def __init__(self, raw: str, scope: Scope) -> None:
        self.raw = raw
        self.scope = scope

    def scan(self, quotes: bool, start: int = 0, end: int | None = None) -> list[Part]:
        raw, i = self.raw, start
        parts: list[Part] = []
        end = len(raw) if end is None else end
        while i < end:
            char = raw[i]
            if char == "\\" and i + 1 < end:
                keep = quotes or raw[i + 1] in "$`\\"
                parts.append(raw[i + 1] if keep else raw[i:i + 2])
                i += 2
            elif char == "'" and quotes:
                close = find_closing(raw, "'", i + 1)
                parts.append(raw[i + 1:close])
                i = close + 1
            elif char == '"' and quotes:
                close = double_quoted_end(raw, i + 1)
                parts += self.quoted(i + 1, close - 1)
                i = close
            else:
                i = self.special(i, parts)
        return parts

    def quoted(self, start: int, end: int) -> list[Part]:
        """Inside double quotes: only ``\\$ \\` \\" \\\\`` are escapes."""
        raw, i = self.raw, start
        parts: list[Part] = []
        while i < end:
            if raw[i] == "\\" and i + 1 < end and raw[i + 1] in '$`"\\\n':
                parts.append(raw[i + 1])
                i += 2
            else:
                i = self.special(i, parts)
        return parts

    def special(self, i: int, parts: list[Part]) -> int:
        """Scan a ``$`` expansion or a backtick at ``i`` (or take one character)."""
        raw = self.raw
        if raw[i] == "`":
            backtick_end(raw, i + 1)
            raise _Unknowable("uses a command's output")
        if raw[i] != "$" or i + 1 >= len(raw):
            parts.append(raw[i])
            return i + 1
        if raw.startswith("$(", i):
            close = expansion_end(raw, i)
            if not raw.startswith("$((", i):
                from clusterbuild.importer.idioms import substitution

                value = substitution(raw[i + 2:close - 1], self.scope)
                if isinstance(value, Text):
                    parts += value.parts
                    return close
            raise _Unknowable("uses a command's output")
        if raw.startswith("${", i):
            close = expansion_end(raw, i)
            parts += self.parameter(raw[i + 2:close - 1])
            return close
        name = _NAME.match(raw, i + 1)
        if name is None:
            parts.append("$")
            return i + 1
        parts += self.value(name.group()).parts
        return name.end()

    def value(self, name: str) -> Text:
        if name[0] in "@*#?$!-":
            raise _Unknowable(f"${name} is known only when the script runs")
        value = self.scope.lookup(name)
        if isinstance(value, Text):
            return value
        if value is None:
            raise _Unknowable(f"${name} is not set by the script")
        if isinstance(value, Unknown):
            raise _Unknowable(value.why)
        if isinstance(value, Read):
            read = read_value(value, self.scope)
            if isinstance(read, Unknown):
                raise _Unknowable(read.why)
            return read
        raise _Unknowable(f"${name} holds a Helm search result, usable only as a chart version")

    def parameter(self, body: str) -> list[Part]:
        match = _PARAMETER.match(body)
        if match is None:
            raise _Unknowable(f"${{{body}}} is not known before the run")
        name, rest = match.groups()
        defined = self.scope.lookup(name) is not None
        for op in (":-", ":=", "-", "="):
            if rest.startswith(op):
                return list(self.value(name).parts) if defined else self.word(rest[len(op):])
        if rest.startswith((":+", "+")):
            return self.word(rest[2 if rest[0] == ":" else 1:]) if defined else []
        return list(_operate(self.value(name), rest, self).parts)

    def word(self, raw: str) -> list[Part]:
        return _Scanner(raw, self.scope).scan(quotes=True)


def _operate(value: Text, op: str, scanner: _Scanner) -> Text:
    """``${X<op>}`` for the operators other than defaults: #, ##, %, %%, /, //."""
    if op == "":
        return value
    removal = re.match(r"^(##|#|%%|%)(.*)$", op, re.S)
    if removal:
        kind, pattern_raw = removal.groups()
        pattern = _literal(Text.of(*scanner.word(pattern_raw)))
        if kind == "#" and pattern in ("v", "*v"):  # the catalogue's ${VERSION#v} and ${VERSION#*v}
            result = strip_v(value)
            if isinstance(result, Text):
                return result
        if kind == "##" and pattern == "*/" and not value.is_literal:
            last = _after_last_slash(value)  # ${TAG_URL##*/}: the tag at the end of a release URL
            if last is not None:
                return last
        return literal(_remove(_literal(value), pattern, kind))
    if op.startswith("/"):
        return literal(_substitute(_literal(value), op, scanner))
    raise _Unknowable(f"the expansion {op!r} is not supported")


def _after_last_slash(value: Text) -> Text | None:
    """What follows the last / of ``value``, when that / is in its literal text (the expressions
    after it, versions and tags, hold none)."""
    for n in range(len(value.parts) - 1, -1, -1):
        part = value.parts[n]
        if isinstance(part, str) and "/" in part:
            return Text.of(part.rsplit("/", 1)[1], *value.parts[n + 1:])
    return None


def _literal(value: Text) -> str:
    text = value.literal
    if text is None:
        raise _Unknowable(f"edits {value.template()!r}, known only at build time")
    return text


def _remove(text: str, pattern: str, kind: str) -> str:
    """Bash's ``${X#p}``, ``${X##p}``, ``${X%p}``, ``${X%%p}`` on literal text."""
    sizes = range(len(text) + 1)
    order = reversed(sizes) if kind in ("##", "%%") else sizes
    for size in order:
        if kind.startswith("#") and fnmatchcase(text[:size], pattern):
            return text[size:]
        if kind.startswith("%") and fnmatchcase(text[len(text) - size:], pattern):
            return text[:len(text) - size]
    return text


def _substitute(text: str, op: str, scanner: _Scanner) -> str:
    """``${X/p/r}`` and ``${X//p/r}`` with a literal pattern."""
    every = op.startswith("//")
    body = op[2:] if every else op[1:]
    split = re.search(r"(?<!\\)/", body)
    pattern_raw, replacement_raw = (body[:split.start()], body[split.end():]) if split else (body, "")
    pattern = _literal(Text.of(*scanner.word(pattern_raw)))
    replacement = _literal(Text.of(*scanner.word(replacement_raw)))
    if any(c in pattern for c in "*?["):
        raise _Unknowable(f"the pattern {pattern!r} is not supported")
    return text.replace(pattern, replacement) if every else text.replace(pattern, replacement, 1)
