"""The catalogue's idioms for values a script computes, read without running anything.

* ``$(helm search repo --versions ... | grep "$VERSION" | awk '{print $2}' | sort -rn | head -n1)``:
  the chart version whose app version is ``$VERSION`` (``ChartByApp``), also in two steps
  through a variable holding the ``helm search`` table.
* ``$(echo $ARCH | sed 's/amd64/x86_64/;s/arm64/aarch64/')``, a ``case $ARCH in amd64) X=x86_64``
  and an ``if [ "$ARCH" = amd64 ]; then X=x86_64; else ...``: an arch map (``ArchMapping``).
* ``$(echo $VERSION | sed 's/^v//')``: the version without its v.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clusterbuild.importer.expand import Scope, expand_word
from clusterbuild.importer.lexer import ShellSyntaxError
from clusterbuild.importer.nodes import Case, If, Node, Pipeline, Simple
from clusterbuild.importer.options import GREP, SED, parse_options
from clusterbuild.importer.releases import release_value, request
from clusterbuild.importer.syntax import parse_script
from clusterbuild.importer.values import (
    ARCH,
    VERSION,
    ChartByApp,
    Expr,
    HelmListing,
    Text,
    Unknown,
    Value,
    strip_v,
)

KNOWN_ARCHES = ("amd64", "arm64")
_SED = re.compile(r"^s(.)((?:(?!\1).)*)\1((?:(?!\1).)*)\1g?$")
_DECLARE = ("export", "readonly", "local", "declare", "typeset")


MessageTest = Callable[[Sequence[Node]], bool]  # are these commands only messages and exits?


@dataclass(frozen=True)
class ArchMapping:
    variable: str
    mapping: dict[str, str]


def substitution(inner: str, scope: Scope) -> Value | ArchMapping:
    """The value of ``$(inner)`` when it is one of the idioms, else ``Unknown``."""
    try:
        nodes = parse_script(inner)
    except ShellSyntaxError:
        return Unknown("comes from the output of a command")
    node = nodes[0] if len(nodes) == 1 else None
    commands = node.commands if isinstance(node, Pipeline) and not node.negated else (node,)
    released = _release(commands, scope)
    if released is not None:
        return released
    simple = [c for c in commands if isinstance(c, Simple) and c.words]
    unknown = Unknown(f"comes from the output of `{' | '.join(c.words[0] for c in simple) or inner}`")
    if len(simple) != len(commands):
        return unknown
    first, rest = simple[0].words, simple[1:]
    if first[:3] == ("helm", "search", "repo"):
        return _from_listing(rest, scope) or unknown
    if first[0] == "echo" and len(first) == 2:
        echoed = expand_word(first[1], scope)
        if isinstance(echoed, Text) and not rest:
            return echoed
        if isinstance(echoed, HelmListing):
            return _from_listing(rest, scope) or unknown
        if isinstance(echoed, Text) and rest and all(c.words[0] == "sed" for c in rest):
            return _sed(echoed, rest) or unknown
    return unknown


def _release(commands: Sequence[Node | None], scope: Scope) -> Value | None:
    """A latest release asked of GitHub (``releases``), else None."""
    first = request(commands[0]) if commands and commands[0] is not None else None
    rest = [c for c in commands[1:] if isinstance(c, Simple) and c.words]
    if first is None or not first.words or len(rest) != len(commands) - 1:
        return None
    words = [_literal_words(c, scope) for c in (first, *rest)]
    return release_value(first, rest, words, scope.releases)


def _literal_words(command: Simple, scope: Scope) -> list[str] | None:
    words = [expand_word(w, scope) for w in command.words]
    literals = [w.literal if isinstance(w, Text) else None for w in words]
    return None if any(w is None for w in literals) else [w for w in literals if w is not None]


def _from_listing(rest: Sequence[Simple], scope: Scope) -> Value | None:
    """What a ``helm search`` table piped through ``rest`` gives: the table, or a chart version."""
    if not rest:
        return HelmListing()
    greps = [c for c in rest if c.words[0] == "grep"]
    wanted = [parse_options(g.words[1:], GREP) for g in greps]
    patterns = [o.args[0] for o in wanted if o.args and "v" not in o.flags]
    chart_column = any(c.words[0] == "awk" and "$2" in " ".join(c.words[1:]) for c in rest)
    if len(patterns) == 1 and chart_column:
        app = expand_word(patterns[0], scope)
        return ChartByApp(app) if isinstance(app, Text) else None
    return None


def _sed(value: Text, seds: Sequence[Simple]) -> Value | ArchMapping | None:
    substitutions: list[tuple[str, str]] = []
    for command in seds:
        words = command.words[1:]
        given = [w for n, w in enumerate(words) if n and words[n - 1] in ("-e", "--expression")]
        for script in given or parse_options(words, SED).args[:1]:
            text = expand_word(script, Scope({}, ()))
            if not isinstance(text, Text) or text.literal is None:
                return None
            for part in text.literal.split(";"):
                match = _SED.match(part.strip())
                if match is None:
                    return None
                substitutions.append((match.group(2), match.group(3)))
    if value == Text((Expr(ARCH),)) and all(re.fullmatch(r"[\w.-]+", a + b) for a, b in substitutions):
        return ArchMapping("", {a: b for a, b in substitutions if a != b})
    if value.uses(VERSION) and substitutions in ([("^v", "")], [("v", "")], [(".", "")]):
        return strip_v(value)
    return None


def arch_case(node: Case, scope: Scope, is_message: MessageTest) -> ArchMapping | None:
    """``case $ARCH in amd64) X=x86_64 ;; arm64) X=aarch64 ;; esac`` as an arch map of X."""
    if expand_word(node.subject, scope) != Text((Expr(ARCH),)):
        return None
    arms = [(patterns, _assigned(body, scope, is_message)) for patterns, body in node.arms]
    return _mapping([(p, a) for p, a in arms])


def arch_if(node: If, scope: Scope, is_message: MessageTest) -> ArchMapping | None:
    """``if [ "$ARCH" = amd64 ]; then X=x86_64; elif ...; else X=aarch64; fi`` as an arch map of X."""
    arms: list[tuple[tuple[str, ...], tuple[str, str] | bool | None]] = []
    for condition, body in node.branches:
        arch = arch_test(condition, scope)
        if arch is None:
            return None
        arms.append(((arch,), _assigned(body, scope, is_message)))
    if node.otherwise:
        arms.append((("*",), _assigned(node.otherwise, scope, is_message)))
    return _mapping(arms)


def _mapping(arms: Sequence[tuple[tuple[str, ...], tuple[str, str] | bool | None]]) -> ArchMapping | None:
    """One variable assigned a literal per arm (arms of only messages allowed) -> its arch map."""
    assigned = [(patterns, a) for patterns, a in arms if isinstance(a, tuple)]
    if any(a is False for _, a in arms) or not assigned or len({a[0] for _, a in assigned}) != 1:
        return None
    mapping: dict[str, str] = {}
    for patterns, (_, value) in assigned:
        for pattern in patterns:
            if pattern == "*":
                covered = {p for ps, _ in arms for p in ps}
                mapping |= {arch: value for arch in KNOWN_ARCHES if arch not in covered}
            elif not any(c in pattern for c in "*?["):
                mapping[pattern.strip("'\"")] = value
    return ArchMapping(assigned[0][1][0], {k: v for k, v in mapping.items() if k != v})


def _assigned(body: Sequence[Node], scope: Scope, is_message: MessageTest) -> tuple[str, str] | bool | None:
    """The (variable, literal) an arm assigns; None for an arm of messages only; False otherwise."""
    found: list[tuple[str, str]] = []
    for node in body:
        if not isinstance(node, Simple):
            return False
        if node.words and node.words[0] not in _DECLARE:
            if not is_message([node]):
                return False
            continue
        for word in [*node.assignments, *(w for w in node.words[1:] if "=" in w)]:
            name, _, raw = word.partition("=")
            value = expand_word(raw, scope)
            if not isinstance(value, Text) or value.literal is None:
                return False
            found.append((name, value.literal))
    return found[0] if len(found) == 1 else (None if not found else False)


def arch_test(condition: Sequence[Node], scope: Scope) -> str | None:
    """The architecture a ``[ "$ARCH" = amd64 ]`` condition tests for."""
    if len(condition) != 1 or not isinstance(condition[0], Simple):
        return None
    words = [w for w in condition[0].words if w not in ("[", "]", "[[", "]]", "test")]
    if len(words) != 3 or words[1] not in ("=", "=="):
        return None
    left, right = expand_word(words[0], scope), expand_word(words[2], scope)
    arch = Text((Expr(ARCH),))
    other = right if left == arch else left if right == arch else None
    return other.literal if isinstance(other, Text) else None
