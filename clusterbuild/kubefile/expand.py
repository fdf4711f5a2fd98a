"""Dockerfile word expansion, matching BuildKit's shell lexer (``shell/lex.go``).

``expand_word`` is BuildKit's ``ProcessWord``: quotes are removed, escapes
processed and parameters substituted, with no word splitting.
``expand_words`` is ``ProcessWords``: unquoted whitespace, including whitespace
in any ``$``/``${...}`` result, separates words; empty words vanish and ``<<``
keeps the blanks after it. One deliberate difference: BuildKit >= 0.15 loses the
text before a nested ``${A:-x}`` in the same word (``80/${P:-tcp}`` gives ``tcp``,
a reused-buffer bug); here that gives ``80/tcp`` as older BuildKit did.

Grammar (``E`` is the escape token, ``\\`` or a backtick from ``# escape=``)::

    word     := ( char | E char | squote | dquote | param )*    a lone final E is dropped
    squote   := "'" [^']* "'"                                   all literal
    dquote   := '"' ( E ('"' | "$" | E) | param | char )* '"'   other E stay literal
    param    := "$" name                    "$" without a name stays a literal "$"
              | "${" name "}"
              | "${" name op word "}"       op: - :- + :+ ? :? # ## % %%
              | "${" name "/" ["/"] pattern "/" word "}"
    name     := digit+ | one of @*#?-$!0 | (letter | digit | "_")+

Names are looked up case-sensitively (as on Linux); unset names expand to ""
(positional and special parameters are never set). ``word`` is a full word:
quotes, escapes and ``$`` nest inside it.
``-``/``+``/``?`` test "set" (``:`` forms: "set and non-empty"); the ``?`` forms
raise ``ExpansionError("NAME: message")``. In ``#``/``%`` words and in ``/``
patterns and replacements, escapes are kept raw and the result is read as a
glob: ``*`` any string, ``?`` one character, ``\\`` escapes ``* ? \\`` (and is
dropped before ``}`` ``/``); there are no bracket expressions. ``//`` replaces
every match and, like Go's ``ReplaceAllString``, expands ``$0``/``${0}`` in
the replacement to the match and other ``$name`` references to "".
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["ExpansionError", "expand_word", "expand_words"]

# Go's unicode.IsSpace (Python's str.isspace also accepts \x1c-\x1f).
_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000").union(
    map(chr, range(0x2000, 0x200B))
)
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_REGEX_META = frozenset("[]{}.+()|^$")
_HEREDOC = re.compile("<<[ \t\r]*|<")
_MODIFIERS = frozenset({"-", ":-", "+", ":+", "?", ":?", "#", "%"})
_GLOB_ESCAPABLE = frozenset("*?\\}/")
_BOM = "\ufeff"  # Go's text/scanner skips one at the start of its input

Segment = tuple[str, bool]  # (text, raw); raw text is never split into words


class ExpansionError(ValueError):
    """A word could not be expanded; str() is a one-line human message.

    For example "A: must be set" (from ``${A:?must be set}``), "missing '}'",
    "unterminated double quote", "unsupported modifier (:=) in substitution".
    """


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand one Dockerfile word as BuildKit does (``ProcessWord``).

    Quotes are removed, escapes processed, variables substituted; no word splitting.
    """
    return "".join(text for text, _ in _Lexer(word, env, escape).scan("", raw_escapes=False))


def expand_words(word: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Like expand_word but splits unquoted whitespace into several words.

    This is BuildKit's ``ProcessWords``, used for e.g. EXPOSE/VOLUME lists.
    """
    words: list[str] = []
    current = ""
    for text, raw in _Lexer(word, env, escape).scan("", raw_escapes=False):
        if raw:
            current += text
            continue
        for ch in text:
            if ch not in _SPACE:
                current += ch
            elif current:
                words.append(current)
                current = ""
    return [*words, current] if current else words


class _Lexer:
    """One left-to-right pass over a word; methods mirror lex.go's shellWord."""

    def __init__(self, word: str, env: Mapping[str, str], escape: str) -> None:
        if escape not in ("\\", "`"):
            raise ExpansionError(f"invalid escape token {escape!r}: must be \\ or `")
        self.src = word.removeprefix(_BOM)
        self.pos = 0
        self.env = env
        self.escape = escape

    def peek(self) -> str:
        """The next character, or "" at the end of the word."""
        return self.src[self.pos : self.pos + 1]

    def next(self) -> str:
        ch = self.peek()
        self.pos += len(ch)
        return ch

    def scan(self, stop: str, raw_escapes: bool) -> list[Segment]:
        """Read segments up to and including ``stop`` ("" means the end of the word)."""
        segments: list[Segment] = []
        while ch := self.peek():
            if ch == stop:
                self.pos += 1
                return segments
            segments.append(self._segment(ch, raw_escapes))
        if stop:
            raise ExpansionError(f"missing '{stop}'")
        return segments

    def _segment(self, ch: str, raw_escapes: bool) -> Segment:
        if ch == "$":
            return self.dollar(), False
        if ch == "'":
            return self.single_quote(), True
        if ch == '"':
            return self.double_quote(raw_escapes), True
        if ch == "<":
            return self.heredoc_marker(), True
        self.pos += 1
        if ch != self.escape:
            return ch, False
        return (ch if raw_escapes else "") + self.next(), True

    def single_quote(self) -> str:
        end = self.src.find("'", self.pos + 1)
        if end < 0:
            raise ExpansionError("unterminated single quote")
        text, self.pos = self.src[self.pos + 1 : end], end + 1
        return text

    def double_quote(self, raw_escapes: bool) -> str:
        self.pos += 1
        out: list[str] = []
        while (ch := self.peek()) != '"':
            if not ch:
                raise ExpansionError("unterminated double quote")
            if ch == "$":
                out.append(self.dollar())
                continue
            self.pos += 1
            if ch == self.escape:
                out.append(ch if raw_escapes else "")
                if self.peek() in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)
        self.pos += 1
        return "".join(out)

    def heredoc_marker(self) -> str:
        """``<<`` and the blanks after it stay together as one unsplittable piece."""
        m = _HEREDOC.match(self.src, self.pos)
        assert m is not None  # called at a "<"
        self.pos = m.end()
        return m.group()

    def name(self) -> str:
        start, ch = self.pos, self.peek()
        if ch.isdecimal():
            while self.peek().isdecimal():
                self.pos += 1
        elif ch in _SPECIAL_PARAMS:
            self.pos += 1
        else:
            while _is_name_char(self.peek()):
                self.pos += 1
        return self.src[start : self.pos]

    def dollar(self) -> str:
        self.pos += 1
        if self.peek() != "{":
            name = self.name()
            return self.env.get(name, "") if name else "$"
        self.pos += 1
        if not self.peek():
            raise ExpansionError("missing '}'")
        if self.peek() in ("{", "}", ":"):
            raise ExpansionError("bad substitution")
        return self.braced(self.name())

    def braced(self, name: str) -> str:
        op = self.next()
        if op == "}":
            return self.env.get(name, "")
        if op == "/":
            return self.substitute(name)
        if op == ":":
            op += self.next()
        if op in ("", ":"):
            raise ExpansionError("missing '}'")
        if op not in _MODIFIERS:
            raise ExpansionError(f"unsupported modifier ({op}) in substitution")
        word = _text(self.scan("}", raw_escapes=op in ("#", "%")))
        return _modify(name, self.env.get(name), op, word)

    def substitute(self, name: str) -> str:
        replace_all = self.peek() == "/"
        self.pos += replace_all
        rx = _glob_regex(_text(self.scan("/", raw_escapes=True)), greedy=True)
        replacement = _text(self.scan("}", raw_escapes=True))
        value = self.env.get(name, "")
        if replace_all:
            return _replace_all(rx, value, replacement)
        m = rx.search(value)
        return value if m is None else value[: m.start()] + replacement + value[m.end() :]


def _text(segments: list[Segment]) -> str:
    return "".join(text for text, _ in segments)


def _modify(name: str, value: str | None, op: str, word: str) -> str:
    """Apply ``${name<op>word}`` to the variable's value (None when unset)."""
    kind = op[-1]
    if kind in "#%":
        greedy = word.startswith(kind)
        return _trim(value or "", word[greedy:], greedy, suffix=kind == "%")
    if value is not None and not (op[0] == ":" and value == ""):
        return word if kind == "+" else value
    if kind == "?":
        reason = "is not allowed to be unset" if value is None else "is not allowed to be empty"
        raise ExpansionError(f"{name}: {word or reason}")
    return word if kind == "-" else ""


def _trim(value: str, pattern: str, greedy: bool, suffix: bool) -> str:
    """Strip the shortest (greedy: longest) prefix or suffix matching the glob."""
    if suffix:  # a leftmost match on reversed strings finds the rightmost one
        pattern, value = _reverse_pattern(pattern), value[::-1]
    m = _glob_regex(pattern, greedy).match(value)
    rest = value[m.end() :] if m else value
    return rest[::-1] if suffix else rest


def _reverse_pattern(pattern: str) -> str:
    """Reverse a glob, keeping each backslash in front of the character it escapes."""
    chunks = re.findall(r"\\.|.", pattern, re.DOTALL)
    return "".join(reversed(chunks))


def _glob_regex(pattern: str, greedy: bool) -> re.Pattern[str]:
    out: list[str] = []
    chars = iter(pattern.removeprefix(_BOM))
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            if nxt not in _GLOB_ESCAPABLE:
                raise ExpansionError(f"invalid escape '\\{nxt}' in pattern ({pattern})")
            out.append(nxt if nxt == "/" else "\\" + nxt)
        elif ch == "*":
            out.append(".*" if greedy else ".*?")
        elif ch == "?":
            out.append(".")
        else:
            out.append("\\" + ch if ch in _REGEX_META else ch)
    return re.compile("".join(out))


def _replace_all(rx: re.Pattern[str], value: str, template: str) -> str:
    """Go's Regexp.ReplaceAllString: no empty match right after a previous match."""
    out: list[str] = []
    last = pos = 0
    while pos <= len(value) and (m := rx.search(value, pos)):
        out.append(value[last : m.start()])
        if m.end() > last or m.start() == 0:
            out.append(_expand_template(template, m.group()))
        last, pos = m.end(), max(pos + 1, m.end())
    out.append(value[last:])
    return "".join(out)


def _expand_template(template: str, match: str) -> str:
    """Go's Regexp.Expand with no capture groups: only ``$0``/``${0}`` name anything."""
    out: list[str] = []
    i = 0
    while (dollar := template.find("$", i)) >= 0:
        out.append(template[i:dollar])
        name, i = _template_ref(template, dollar + 1)
        out.append("$" if name is None else match if name == "0" else "")
    out.append(template[i:])
    return "".join(out)


def _template_ref(template: str, start: int) -> tuple[str | None, int]:
    """Parse what follows a ``$``: (name or None for a literal "$", where to go on)."""
    if template.startswith("$", start):
        return None, start + 1
    brace = template.startswith("{", start)
    begin = end = start + brace
    while end < len(template) and _is_name_char(template[end]):
        end += 1
    if end == begin or (brace and not template.startswith("}", end)):
        return None, start
    return template[begin:end], end + brace


def _is_name_char(ch: str) -> bool:
    """Go's unicode.IsLetter(ch) || unicode.IsDigit(ch) || ch == '_'."""
    return ch.isalpha() or ch.isdecimal() or ch == "_"
