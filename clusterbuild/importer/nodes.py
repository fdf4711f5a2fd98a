"""The nodes of a parsed shell script, each with the line it starts on (see ``syntax``), and what
a group of them does as far as a conversion cares: only messages (``is_message``: an ``if``
whose branch only prints and exits is a check), or files placed (``touches_files``: a loop or
condition that downloads, moves, edits or writes files cannot be skipped silently). Functions
are looked into, three calls deep: the catalogue's scripts do their work in them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Redirect:
    op: str  # ">", ">>", "2>&", "<<", ...
    target: str  # the raw word
    body: str | None = None  # a here-document's text
    quoted: bool = False  # no expansion in the here-document

    @property
    def text(self) -> str:
        return f"{self.op}{self.target}" if self.op.endswith("&") else f"{self.op} {self.target}"


@dataclass(frozen=True)
class Simple:
    line: int
    assignments: tuple[str, ...]
    words: tuple[str, ...]
    redirects: tuple[Redirect, ...] = ()

    @property
    def text(self) -> str:
        return " ".join([*self.assignments, *self.words, *(r.text for r in self.redirects)])


@dataclass(frozen=True)
class Pipeline:
    line: int
    commands: tuple[Node, ...]
    negated: bool = False

    @property
    def text(self) -> str:
        return ("! " if self.negated else "") + " | ".join(text_of(c) for c in self.commands)


@dataclass(frozen=True)
class AndOr:
    line: int
    parts: tuple[tuple[str, Node], ...]  # ("", first), then ("&&" | "||", next)

    @property
    def text(self) -> str:
        return " ".join(f"{op} {text_of(node)}".strip() for op, node in self.parts)


@dataclass(frozen=True)
class If:
    line: int
    end_line: int
    branches: tuple[tuple[tuple[Node, ...], tuple[Node, ...]], ...]  # (condition, body)
    otherwise: tuple[Node, ...]


@dataclass(frozen=True)
class Case:
    line: int
    end_line: int
    subject: str
    arms: tuple[tuple[tuple[str, ...], tuple[Node, ...]], ...]  # (patterns, body)


@dataclass(frozen=True)
class Loop:
    line: int
    end_line: int
    header: str
    body: tuple[Node, ...]


@dataclass(frozen=True)
class Group:
    line: int
    body: tuple[Node, ...]


@dataclass(frozen=True)
class Function:
    line: int
    name: str
    body: tuple[Node, ...]


Node = Simple | Pipeline | AndOr | If | Case | Loop | Group | Function


def text_of(node: Node) -> str:
    """A one-line rendering of a node, for reports."""
    if isinstance(node, Simple | Pipeline | AndOr):
        return node.text
    if isinstance(node, If):
        return "if " + "; ".join(text_of(n) for n in node.branches[0][0])
    if isinstance(node, Case):
        return f"case {node.subject} in"
    if isinstance(node, Loop):
        return node.header
    if isinstance(node, Group):
        return "{ " + "; ".join(text_of(n) for n in node.body) + "; }"
    return f"{node.name}()"


MESSAGES = ("echo", "printf", "exit", "return", "true", "false", ":")
EFFECTFUL = ("wget", "curl", "helm", "tar", "unzip", "gunzip", "mv", "cp", "yq", "sed", "git", "cat", "tee")
QUIET = ("/dev/null", "1", "2", "&1", "&2")
DEPTH = 3


def is_message(nodes: Sequence[Node], functions: Mapping[str, Function], depth: int = 0) -> bool:
    """Are ``nodes`` only messages and exits (an error branch, a usage function)?"""
    for node in nodes:
        if isinstance(node, Group | AndOr):
            if not is_message(children(node), functions, depth):
                return False
        elif not isinstance(node, Simple) or not node.words or not _message(node, functions, depth):
            return False
    return True


def _message(node: Simple, functions: Mapping[str, Function], depth: int) -> bool:
    if any(r.target not in QUIET for r in node.redirects):
        return False
    function = functions.get(node.words[0])
    if function is not None and depth < DEPTH:
        return is_message(function.body, functions, depth + 1)
    return node.words[0] in MESSAGES


def touches_files(nodes: Sequence[Node], functions: Mapping[str, Function], depth: int = 0) -> bool:
    """Do ``nodes`` download, move, edit or write files (so skipping them loses something)?"""
    for node in nodes:
        if isinstance(node, Simple):
            if _places_files(node, functions, depth):
                return True
        elif not isinstance(node, Function) and touches_files(children(node), functions, depth):
            return True
    return False


def _places_files(node: Simple, functions: Mapping[str, Function], depth: int) -> bool:
    if any(">" in r.op and r.target not in QUIET for r in node.redirects):
        return True
    name = node.words[0] if node.words else ""
    function = functions.get(name)
    if function is not None and depth < DEPTH:
        return touches_files(function.body, functions, depth + 1)
    return name in EFFECTFUL


def children(node: Node) -> tuple[Node, ...]:
    """The nodes directly inside a compound node."""
    if isinstance(node, Pipeline):
        return node.commands
    if isinstance(node, AndOr):
        return tuple(p for _, p in node.parts)
    if isinstance(node, If):
        return tuple(n for _, body in node.branches for n in body) + node.otherwise
    if isinstance(node, Case):
        return tuple(n for _, body in node.arms for n in body)
    if isinstance(node, Loop | Group):
        return node.body
    return ()
