"""The nodes of a parsed shell script, each with the line it starts on (see ``syntax``)."""

from __future__ import annotations

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
