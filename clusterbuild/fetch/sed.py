"""The part of ``sed`` the catalogue uses on downloaded files, run in process, deterministically.

    script = parse_sed("s#type: ClusterIP#type: NodePort#g;/^$/d")   # UnsupportedSed if not
    text = script.apply(text)

Commands, separated by ``;`` or new lines, each with an optional address (``/regex/`` or a line
number): ``s<d>regex<d>replacement<d>[g][N][I]``, ``d`` (delete the line), ``c text`` (replace
it), ``a text`` / ``i text`` (a line after / before it). Regular expressions are POSIX basic
ones (``\\(``, ``\\{n\\}``, ``\\+``, ``\\?``, ``[[:space:]]``), or extended ones with ``extended``
(``sed -E``/``-r``); replacements take ``&``, ``\\1``..``\\9`` and ``\\n``. Anything else
(``{...}`` blocks, ``n``, ``r file``, hold space) raises ``UnsupportedSed`` with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLASSES = {"space": r"\s", "digit": r"\d", "alpha": "a-zA-Z", "alnum": "a-zA-Z0-9", "upper": "A-Z",
            "lower": "a-z", "blank": r" \t", "xdigit": "0-9A-Fa-f", "punct": r"!-/:-@\[-`{-~"}


class UnsupportedSed(ValueError):
    """The sed script uses more than simple substitutions and line edits."""


@dataclass(frozen=True)
class Command:
    address: re.Pattern[str] | int | None
    name: str  # s, d, c, a, i
    pattern: re.Pattern[str] | None = None
    replacement: str = ""
    count: int = 1  # 0: every match (g)
    text: str = ""  # for c, a, i


@dataclass(frozen=True)
class SedScript:
    commands: tuple[Command, ...]

    def apply(self, text: str) -> str:
        ends_with_newline = text.endswith("\n")
        lines = text.split("\n")
        if ends_with_newline:
            lines.pop()
        out: list[str] = []
        for number, line in enumerate(lines, start=1):
            out += self._line(line, number)
        return "\n".join(out) + ("\n" if ends_with_newline or not lines else "")

    def _line(self, line: str, number: int) -> list[str]:
        before: list[str] = []
        after: list[str] = []
        for command in self.commands:
            if not _selected(command.address, line, number):
                continue
            if command.name == "d":
                return before
            if command.name == "c":
                return [*before, command.text, *after]
            if command.name == "a":
                after.append(command.text)
            elif command.name == "i":
                before.append(command.text)
            elif command.pattern is not None:
                line = command.pattern.sub(_expand(command.replacement), line, count=command.count)
        return [*before, line, *after]


def _selected(address: re.Pattern[str] | int | None, line: str, number: int) -> bool:
    if address is None:
        return True
    if isinstance(address, int):
        return address == number
    return address.search(line) is not None


def _expand(replacement: str) -> str:
    """A sed replacement as a Python one: ``&`` is the match, ``\\&`` a literal ``&``."""
    out, i = [], 0
    while i < len(replacement):
        char = replacement[i]
        if char == "\\" and i + 1 < len(replacement):
            nxt = replacement[i + 1]
            out.append(f"\\g<{nxt}>" if nxt.isdigit() else "\n" if nxt == "n" else
                       "\\\\" if nxt == "\\" else nxt)
            i += 2
            continue
        out.append("\\g<0>" if char == "&" else "\\\\" if char == "\\" else char)
        i += 1
    return "".join(out)


def translate(regex: str, extended: bool) -> str:
    """A POSIX basic (or extended) regular expression as a Python one."""
    out, i = [], 0
    while i < len(regex):
        char = regex[i]
        if char == "[":
            end, body = _bracket(regex, i)
            out.append(body)
            i = end
            continue
        if char == "\\" and i + 1 < len(regex):
            nxt = regex[i + 1]
            if not extended and nxt in "(){}+?|":
                out.append(nxt)
            elif nxt in "<>":
                out.append(r"\b")
            elif nxt in "nt.*[]^$\\/" or nxt.isdigit() or (extended and nxt in "(){}+?|") or nxt in "swSWb":
                out.append("\\" + nxt)
            else:
                out.append(re.escape(nxt))
            i += 2
            continue
        if not extended and char in "(){}+?|":
            out.append("\\" + char)
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _bracket(regex: str, start: int) -> tuple[int, str]:
    """A bracket expression ``[...]`` from ``start``: (index after it, its Python form)."""
    i = start + 1
    body = ""
    if i < len(regex) and regex[i] == "^":
        body, i = "^", i + 1
    if i < len(regex) and regex[i] == "]":
        body, i = body + r"\]", i + 1
    while i < len(regex) and regex[i] != "]":
        named = re.match(r"\[:(\w+):\]", regex[i:])
        if named:
            if named.group(1) not in _CLASSES:
                raise UnsupportedSed(f"the class [:{named.group(1)}:] is not supported")
            body, i = body + _CLASSES[named.group(1)], i + named.end()
            continue
        char = regex[i]
        body += "\\\\" if char == "\\" else "\\[" if char == "[" else char
        i += 1
    if i >= len(regex):
        raise UnsupportedSed(f"the bracket expression at {regex[start:]!r} is not closed")
    return i + 1, f"[{body}]"


def _compile(regex: str, extended: bool, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(translate(regex, extended), flags)
    except re.error as e:
        raise UnsupportedSed(f"the regular expression {regex!r} is not understood ({e})") from None


def _delimited(script: str, i: int, delimiter: str) -> tuple[str, int]:
    """The text up to the next unescaped ``delimiter`` from ``i`` (an escaped one kept plain)."""
    out = ""
    while i < len(script):
        char = script[i]
        if char == "\\" and i + 1 < len(script):
            out += script[i + 1] if script[i + 1] == delimiter and delimiter not in "&\\" else script[i:i + 2]
            i += 2
            continue
        if char == delimiter:
            return out, i + 1
        out += char
        i += 1
    raise UnsupportedSed(f"{script!r}: a {delimiter!r} is missing")


def parse_sed(script: str, extended: bool = False) -> SedScript:
    commands: list[Command] = []
    i = 0
    while i < len(script):
        if script[i] in " \t\n;":
            i += 1
            continue
        command, i = _command(script, i, extended)
        commands.append(command)
    if not commands:
        raise UnsupportedSed("an empty sed script")
    return SedScript(tuple(commands))


def _command(script: str, i: int, extended: bool) -> tuple[Command, int]:
    address: re.Pattern[str] | int | None = None
    if script[i] == "/":
        regex, i = _delimited(script, i + 1, "/")
        address = _compile(regex, extended)
    elif script[i].isdigit():
        number = re.match(r"\d+", script[i:])
        assert number is not None
        address, i = int(number.group()), i + number.end()
    while i < len(script) and script[i] == " ":
        i += 1
    if i >= len(script):
        raise UnsupportedSed(f"{script!r}: an address without a command")
    name = script[i]
    if name == "s":
        return _substitution(script, i + 1, extended, address)
    if name == "d":
        return Command(address, "d"), i + 1
    if name in "cai":
        rest = script[i + 1:]
        escaped = rest.startswith("\\")  # `a\  text` keeps its leading blanks, as GNU sed does
        text = rest[1:] if escaped else rest
        if "\n" in text:
            text = text.split("\n", 1)[0]
        text = text if escaped else text.lstrip(" ")
        return Command(address, name, text=text.replace("\\n", "\n")), i + 1 + len(rest)
    raise UnsupportedSed(f"the sed command {name!r} is not supported (only s, d, c, a, i)")


def _substitution(script: str, i: int, extended: bool, address: re.Pattern[str] | int | None
                  ) -> tuple[Command, int]:
    if i >= len(script) or script[i] in "\\\n":
        raise UnsupportedSed(f"{script!r}: s needs a delimiter")
    delimiter = script[i]
    regex, i = _delimited(script, i + 1, delimiter)
    replacement, i = _delimited(script, i, delimiter)
    flags = re.match(r"[gIi0-9]*", script[i:])
    assert flags is not None
    given, i = flags.group(), i + flags.end()
    if i < len(script) and script[i] not in " \t\n;}":
        raise UnsupportedSed(f"the s flag {script[i]!r} is not supported (only g, I and a number)")
    count = 0 if "g" in given else 1
    if any(c.isdigit() for c in given):
        raise UnsupportedSed("s with a match number is not supported")
    pattern = _compile(regex, extended, re.IGNORECASE if "I" in given or "i" in given else 0)
    return Command(address, "s", pattern, replacement, count), i
