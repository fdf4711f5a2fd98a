"""A shell script as a tree: simple commands, pipelines, ``&&``/``||`` lists, ``if``, ``case``,
loops, groups and function definitions, each with the line it starts on.

    nodes = parse_script(text)   # raises ShellSyntaxError with a line number

Reserved words are recognised at command position only, as bash does; ``[[ ... ]]`` is read
as one simple command. Loop bodies are kept as a line range: the converter does not unroll them.
"""

from __future__ import annotations

import re

from clusterbuild.importer.lexer import Kind, ShellSyntaxError, Token, tokenize
from clusterbuild.importer.nodes import (
    AndOr,
    Case,
    Function,
    Group,
    If,
    Loop,
    Node,
    Pipeline,
    Redirect,
    Simple,
)

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
_LOOPS = ("for", "while", "until", "select")
_CLOSERS = ("then", "elif", "else", "fi", "do", "done", "esac", "}")


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind is Kind.WORD and token.text in words

    def is_op(self, *ops: str) -> bool:
        token = self.peek()
        return token is not None and token.kind is Kind.OP and token.text in ops

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise ShellSyntaxError(self.tokens[-1].line, "the script ends in the middle of a command")
        self.i += 1
        return token

    def expect_word(self, word: str) -> Token:
        self.skip_separators()
        if not self.is_word(word):
            token = self.peek()
            line = token.line if token else self.tokens[-1].line
            raise ShellSyntaxError(line, f"expected {word!r}")
        return self.take()

    def skip_separators(self) -> None:
        while (token := self.peek()) is not None and (token.kind is Kind.NEWLINE or self.is_op(";", "&")):
            self.i += 1

    def parse_list(self, stop_words: tuple[str, ...] = (),
                   stop_ops: tuple[str, ...] = ()) -> tuple[Node, ...]:
        nodes: list[Node] = []
        while True:
            self.skip_separators()
            if self.peek() is None or self.is_word(*stop_words) or self.is_op(*stop_ops):
                return tuple(nodes)
            nodes.append(self.parse_and_or())

    def parse_and_or(self) -> Node:
        first = self.parse_pipeline()
        parts: list[tuple[str, Node]] = [("", first)]
        while self.is_op("&&", "||"):
            op = self.take().text
            self.skip_newlines()
            parts.append((op, self.parse_pipeline()))
        return first if len(parts) == 1 else AndOr(parts[0][1].line, tuple(parts))

    def skip_newlines(self) -> None:
        while (token := self.peek()) is not None and token.kind is Kind.NEWLINE:
            self.i += 1

    def parse_pipeline(self) -> Node:
        negated = self.is_word("!")
        if negated:
            self.take()
        commands = [self.parse_command()]
        while self.is_op("|", "|&"):
            self.take()
            self.skip_newlines()
            commands.append(self.parse_command())
        if len(commands) == 1 and not negated:
            return commands[0]
        return Pipeline(_line(commands[0]), tuple(commands), negated)

    def parse_command(self) -> Node:
        token = self.peek()
        if token is None:
            raise ShellSyntaxError(self.tokens[-1].line, "a command is missing")
        if token.kind is Kind.WORD:
            compound = self.compound(token)
            if compound is not None:
                self.trailing_redirects()
                return compound
        elif self.is_op("("):
            self.take()
            body = self.parse_list(stop_ops=(")",))
            self.take()
            self.trailing_redirects()
            return Group(token.line, body)
        return self.parse_simple()

    def compound(self, token: Token) -> Node | None:
        word = token.text
        if word in _CLOSERS:
            raise ShellSyntaxError(token.line, f"unexpected {word!r}")
        if word == "if":
            return self.parse_if()
        if word == "case":
            return self.parse_case()
        if word in _LOOPS:
            return self.parse_loop()
        if word == "{":
            self.take()
            body = self.parse_list(stop_words=("}",))
            self.expect_word("}")
            return Group(token.line, body)
        following = [t.text for t in self.tokens[self.i + 1:self.i + 3]]
        if word == "function" or following == ["(", ")"]:
            return self.parse_function()
        return None

    def trailing_redirects(self) -> None:
        while (token := self.peek()) is not None and token.kind is Kind.OP and token.text[-1:] in "<>&" \
                and token.text not in ("&", "&&"):
            self.take()
            self.take()

    def parse_simple(self) -> Simple:
        line = self.tokens[self.i].line
        assignments: list[str] = []
        words: list[str] = []
        redirects: list[Redirect] = []
        in_test = self.is_word("[[")
        while (token := self.peek()) is not None and token.kind is not Kind.NEWLINE:
            if token.kind is Kind.OP and not in_test:
                if token.text.lstrip("0123456789")[:1] not in ("<", ">") and token.text not in ("&>", "&>>"):
                    break
                self.take()
                target = self.take()
                redirects.append(Redirect(token.text, target.text, target.body, target.quoted))
                continue
            self.take()
            if token.kind is Kind.WORD and not words and _ASSIGNMENT.match(token.text):
                assignments.append(token.text + self.array() if token.text.endswith("=") else token.text)
            else:
                words.append(token.text)
            if in_test and token.text == "]]":
                break
        if not (assignments or words or redirects):
            token = self.peek()
            raise ShellSyntaxError(line, f"unexpected {token.text if token else 'end'!r}")
        return Simple(line, tuple(assignments), tuple(words), tuple(redirects))

    def array(self) -> str:
        """The ``(a b c)`` of an array assignment ``x=(a b c)``, as text (empty when there is none)."""
        if not self.is_op("("):
            return ""
        self.take()
        items = []
        while not self.is_op(")"):
            token = self.take()
            if token.kind is Kind.WORD:
                items.append(token.text)
        self.take()
        return "(" + " ".join(items) + ")"

    def parse_if(self) -> If:
        line = self.take().line
        branches = []
        otherwise: tuple[Node, ...] = ()
        while True:
            condition = self.parse_list(stop_words=("then",))
            self.expect_word("then")
            body = self.parse_list(stop_words=("elif", "else", "fi"))
            branches.append((condition, body))
            keyword = self.take()
            if keyword.text == "else":
                otherwise = self.parse_list(stop_words=("fi",))
                keyword = self.expect_word("fi")
            if keyword.text == "fi":
                return If(line, keyword.line, tuple(branches), otherwise)

    def parse_case(self) -> Case:
        line = self.take().line
        subject = self.take().text
        self.expect_word("in")
        arms: list[tuple[tuple[str, ...], tuple[Node, ...]]] = []
        while True:
            self.skip_newlines()
            if self.is_word("esac"):
                return Case(line, self.take().line, subject, tuple(arms))
            if self.is_op("("):
                self.take()
            patterns = [self.take().text]
            while self.is_op("|"):
                self.take()
                patterns.append(self.take().text)
            if not self.is_op(")"):
                raise ShellSyntaxError(self.tokens[self.i - 1].line, "a case pattern is not closed with )")
            self.take()
            body = self.parse_list(stop_words=("esac",), stop_ops=(";;", ";&", ";;&"))
            arms.append((tuple(patterns), body))
            if self.is_op(";;", ";&", ";;&"):
                self.take()

    def parse_loop(self) -> Loop:
        start = self.take()
        header = [start.text]
        while not self.is_word("do"):
            token = self.take()
            if token.kind is not Kind.NEWLINE and token.text != ";":
                header.append(token.text)
        self.take()
        body = self.parse_list(stop_words=("done",))
        end = self.expect_word("done")
        return Loop(start.line, end.line, " ".join(header), body)

    def parse_function(self) -> Function:
        token = self.take()
        if token.text == "function":
            token = self.take()
        if self.is_op("("):
            self.take()
            self.take()
        self.skip_newlines()
        body = self.parse_command()
        return Function(token.line, token.text, body.body if isinstance(body, Group) else (body,))


def _line(node: Node) -> int:
    return node.line


def parse_script(text: str) -> tuple[Node, ...]:
    """The top-level nodes of the script ``text``."""
    parser = _Parser(tokenize(text))
    nodes = parser.parse_list()
    if parser.peek() is not None:
        token = parser.take()
        raise ShellSyntaxError(token.line, f"unexpected {token.text!r}")
    return nodes
