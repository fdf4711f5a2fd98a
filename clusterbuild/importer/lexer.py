"""Splitting a shell script into tokens: words (kept raw, quotes and all), operators, newlines.

Enough of bash for the catalogue's ``init.sh`` scripts: quotes, backslash escapes, line
continuations, comments, ``$(...)``/``${...}``/backticks inside words (nested), redirections
with file descriptors (``2>&1``, ``1>/dev/null``, ``&>``), and here-documents, whose body is
attached to the delimiter word. Words are not expanded here (see ``expand``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any


class Kind(Enum):
    WORD = "word"
    OP = "op"
    NEWLINE = "newline"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    line: int
    body: str | None = None  # a here-document's text, on its delimiter word
    quoted: bool = False  # the here-document's delimiter was quoted: no expansion in its body


class ShellSyntaxError(Exception):
    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


_OPERATOR = re.compile(r"\d*(?:>>|>&|>\||<<<|<<-|<<|<&|<>|>|<)|&>>|&>|&&|\|\||;;&|;;|;&|\|&|[;&|()]")


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.tokens: list[Token] = []
        self.pending: list[tuple[int, bool]] = []  # here-document delimiters: (token index, strip tabs)

    def run(self) -> list[Token]:
        while self.i < len(self.text):
            char = self.text[self.i]
            if self.text.startswith("\\\n", self.i):
                self.i, self.line = self.i + 2, self.line + 1
            elif char in " \t\r":
                self.i += 1
            elif char == "\n":
                self._newline()
            elif char == "#":
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end < 0 else end
            else:
                operator = _OPERATOR.match(self.text, self.i)
                if operator:
                    self._operator(operator.group())
                else:
                    self._word()
        if self.pending:
            raise ShellSyntaxError(self.line, "a here-document is not closed")
        return self.tokens

    def _operator(self, text: str) -> None:
        self.tokens.append(Token(Kind.OP, text, self.line))
        self.i += len(text)
        if text.lstrip("0123456789") in ("<<", "<<-"):
            self._skip_blanks()
            start = len(self.tokens)
            self._word()
            if len(self.tokens) == start:
                raise ShellSyntaxError(self.line, "a here-document has no delimiter")
            self.pending.append((start, text.endswith("-")))

    def _skip_blanks(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t":
            self.i += 1

    def _newline(self) -> None:
        self.tokens.append(Token(Kind.NEWLINE, "\n", self.line))
        self.i, self.line = self.i + 1, self.line + 1
        for index, strip_tabs in self.pending:
            self._here_document(index, strip_tabs)
        self.pending = []

    def _here_document(self, index: int, strip_tabs: bool) -> None:
        delimiter = self.tokens[index]
        word = delimiter.text
        quoted = any(q in word for q in "'\"\\")
        end_marker = re.sub(r"['\"\\]", "", word)
        lines: list[str] = []
        while self.i < len(self.text):
            end = self.text.find("\n", self.i)
            end = len(self.text) if end < 0 else end
            raw = self.text[self.i:end]
            self.i, self.line = end + 1, self.line + 1
            text = raw.lstrip("\t") if strip_tabs else raw
            if text == end_marker:
                self.tokens[index] = replace(delimiter, body="".join(lines), quoted=quoted)
                return
            lines.append(text + "\n")
        raise ShellSyntaxError(delimiter.line, f"the here-document ending with {end_marker} is not closed")

    def _word(self) -> None:
        start, line = self.i, self.line
        while self.i < len(self.text):
            char = self.text[self.i]
            if char in " \t\r\n" or (char in ";&|()<>" and not self.text.startswith("$(", self.i)):
                break
            self._advance_one()
        if self.i > start:
            self.tokens.append(Token(Kind.WORD, self.text[start:self.i], line))

    def _advance_one(self) -> None:
        """Move past one unit of a word: a character, an escape, a quoted string, an expansion."""
        char = self.text[self.i]
        if char == "\\":
            self._count(self.i, self.i + 2)
        elif char == "'":
            self._count(self.i, self._find("'", self.i + 1) + 1)
        elif char == '"':
            self._count(self.i, self._double_quoted_end(self.i + 1))
        elif char == "`":
            self._count(self.i, self._backtick_end(self.i + 1))
        elif char == "$" and self.text.startswith(("$(", "${"), self.i):
            self._count(self.i, self._expansion_end(self.i))
        else:
            self.i += 1

    def _count(self, start: int, end: int) -> None:
        self.line += self.text.count("\n", start, end)
        self.i = end

    def _find(self, char: str, start: int) -> int:
        return _checked(self.line, find_closing, self.text, char, start)

    def _double_quoted_end(self, i: int) -> int:
        return _checked(self.line, double_quoted_end, self.text, i)

    def _backtick_end(self, i: int) -> int:
        return _checked(self.line, backtick_end, self.text, i)

    def _expansion_end(self, i: int) -> int:
        return _checked(self.line, expansion_end, self.text, i)


class Unclosed(ValueError):
    """A quote or an expansion runs to the end of the text."""


def _checked(line: int, scan: Callable[..., int], *args: Any) -> int:
    try:
        return scan(*args)
    except Unclosed as e:
        raise ShellSyntaxError(line, f"{e} is not closed") from None


def find_closing(text: str, char: str, start: int) -> int:
    end = text.find(char, start)
    if end < 0:
        raise Unclosed(f"a {char} quote")
    return end


def double_quoted_end(text: str, i: int) -> int:
    """The index after the ``"`` closing a string whose text starts at ``i``."""
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
        elif char == '"':
            return i + 1
        elif char == "`":
            i = backtick_end(text, i + 1)
        elif char == "$" and text.startswith(("$(", "${"), i):
            i = expansion_end(text, i)
        else:
            i += 1
    raise Unclosed('a " quote')


def backtick_end(text: str, i: int) -> int:
    while i < len(text) and text[i] != "`":
        i += 2 if text[i] == "\\" else 1
    if i >= len(text):
        raise Unclosed("a ` quote")
    return i + 1


def expansion_end(text: str, i: int) -> int:
    """The index after ``$(...)`` or ``${...}`` starting at ``i`` (nesting and quotes respected)."""
    closer = ")" if text[i + 1] == "(" else "}"
    opener = "(" if closer == ")" else "{"
    depth, i = 1, i + 2
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "'" and closer == ")":
            i = find_closing(text, "'", i + 1) + 1
            continue
        if char == '"':
            i = double_quoted_end(text, i + 1)
            continue
        depth += (char == opener) - (char == closer)
        i += 1
        if depth == 0:
            return i
    raise Unclosed(f"a ${opener}")


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with a newline token."""
    return _Lexer(text if text.endswith("\n") else text + "\n").run()
