"""``.helmignore`` as Helm's chart directory loader reads it (``pkg/ignore``), for charts
clusterbuild packs in memory (``release``).

One pattern per line (``#`` comments and blank lines skipped), first match wins; a
pattern with a ``/`` matches the chart-relative path, one without matches the base name;
a trailing ``/`` matches directories only (and so everything below them); ``*`` and ``?``
stop at ``/`` as in Go's ``filepath.Match``. Helm always adds ``templates/.?*`` (hidden
files in templates/). Negated patterns (``!x``) have subtle semantics in Helm: a file
with one is not read here (``None``), and the caller lets Helm load the chart itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

DEFAULTS = ("templates/.?*",)


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    on_path: bool  # the pattern has a "/": match the whole relative path, else the base name
    directories_only: bool


def parse_ignore(text: str) -> Callable[[str, bool], bool] | None:
    """``ignored(relative_path, is_directory)`` of a .helmignore, or None (negations)."""
    rules: list[Rule] = []
    for line in [*DEFAULTS, *text.splitlines()]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            return None
        directories_only = line.endswith("/")
        line = line.rstrip("/").removeprefix("/") or line
        rules.append(Rule(re.compile(_translate(line)), "/" in line, directories_only))

    def ignored(path: str, is_directory: bool) -> bool:
        name = path.rpartition("/")[2]
        return any(rule.pattern.fullmatch(path if rule.on_path else name) is not None
                   for rule in rules if is_directory or not rule.directories_only)
    return ignored


def _translate(pattern: str) -> str:
    """Go ``filepath.Match`` syntax as a regular expression."""
    out, position = [], 0
    while position < len(pattern):
        char = pattern[position]
        position += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and position < len(pattern):
            out.append(re.escape(pattern[position]))
            position += 1
        elif char == "[" and "]" in pattern[position:]:
            end = pattern.index("]", position + 1) if pattern[position:position + 1] == "]" else \
                pattern.index("]", position)
            body = pattern[position:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body).replace("\\", "\\\\") + "]")
            position = end + 1
        else:
            out.append(re.escape(char))
    return "".join(out)
