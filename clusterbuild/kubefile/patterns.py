"""Docker/BuildKit path patterns: COPY/ADD source globs and ``.dockerignore`` files.

``match_path`` follows Go's ``path/filepath.Match`` (used by BuildKit to resolve
COPY wildcards); ``read_ignore_file`` follows moby's ``ignorefile.ReadAll``; and
``IgnoreMatcher`` follows ``moby/patternmatcher`` as driven by BuildKit's context
walker (fsutil).  Paths are '/'-separated and relative; nothing here does I/O.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

__all__ = ["IgnoreMatcher", "PatternError", "match_path", "read_ignore_file"]

# Go's unicode.IsSpace set, used by strings.TrimSpace (str.strip() would differ).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    map(chr, range(0x2000, 0x200B))
)


class PatternError(ValueError):
    """Malformed pattern; str() names the pattern and the problem."""

    def __init__(self, pattern: str, problem: str) -> None:
        super().__init__(f"{pattern!r} : {problem}")
        self.pattern = pattern
        self.problem = problem


@dataclass(frozen=True)
class _Tok:
    """One pattern term: 'lit' (char, escaped?), 'any' ('?'), 'star', or 'class'."""

    kind: str
    char: str = ""
    escaped: bool = False
    negated: bool = False
    ranges: tuple[tuple[str, str], ...] = ()


def _parse_class(pattern: str, i: int) -> tuple[_Tok, int]:
    """Parse a character class whose '[' is at pattern[i - 1]; return it and the next index."""
    negated = i < len(pattern) and pattern[i] == "^"
    i += negated
    ranges: list[tuple[str, str]] = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            return _Tok("class", negated=negated, ranges=tuple(ranges)), i + 1
        lo, i = _class_char(pattern, i, "empty character class")
        hi, i = _class_char(pattern, i + 1, "incomplete range") if pattern[i] == "-" else (lo, i)
        ranges.append((lo, hi))


def _class_char(pattern: str, i: int, on_bracket: str) -> tuple[str, int]:
    """Read one possibly-escaped class character (Go's getEsc); text must follow it."""
    c = pattern[i] if i < len(pattern) else ""
    if c in ("-", "]"):
        raise PatternError(pattern, on_bracket if c == "]" else "unexpected '-' in character class")
    i += c == "\\"
    if i + 1 >= len(pattern):
        raise PatternError(pattern, "unterminated character class")
    return pattern[i], i + 1


@lru_cache(maxsize=1024)
def _tokenize(pattern: str) -> tuple[_Tok, ...]:
    """Split a filepath.Match pattern into terms, rejecting anything Go calls malformed."""
    toks: list[_Tok] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        i += 1
        if c in "*?":
            toks.append(_Tok("star" if c == "*" else "any"))
        elif c == "[":
            tok, i = _parse_class(pattern, i)
            toks.append(tok)
        elif c == "\\":
            if i >= len(pattern):
                raise PatternError(pattern, "trailing backslash")
            toks.append(_Tok("lit", pattern[i], escaped=True))
            i += 1
        else:
            toks.append(_Tok("lit", c))
    return tuple(toks)


def _match_one(tok: _Tok, ch: str) -> bool:
    if tok.kind == "lit":
        return tok.char == ch
    if tok.kind == "any":
        return ch != "/"
    return any(lo <= ch <= hi for lo, hi in tok.ranges) != tok.negated


def _match_chunk(chunk: Sequence[_Tok], name: str) -> str | None:
    """Match fixed-width chunk at the start of name; return the rest, or None."""
    ok = len(name) >= len(chunk) and all(map(_match_one, chunk, name))
    return name[len(chunk) :] if ok else None


def _chunks(toks: Sequence[_Tok]) -> list[list[_Tok]]:
    """Split terms at each '*' (Go's scanChunk); every chunk but the first follows a star."""
    chunks: list[list[_Tok]] = [[]]
    for tok in toks:
        if tok.kind == "star":
            chunks.append([])
        else:
            chunks[-1].append(tok)
    return chunks


def match_path(pattern: str, path: str) -> bool:
    """Go filepath.Match: '*'/'?' never cross '/', classes, escapes; bad pattern -> PatternError."""
    chunks = _chunks(_tokenize(pattern))
    for n, chunk in enumerate(chunks):
        star, last = n > 0, n == len(chunks) - 1
        if star and last and not chunk:
            return "/" not in path
        rest = _match_chunk(chunk, path)
        if rest is None or (last and rest):  # a star may skip 1..k non-'/' chars (leftmost wins)
            skips = range(len(path.split("/")[0]) if star else 0)
            tries = (_match_chunk(chunk, path[i + 1 :]) for i in skips)
            rest = next((r for r in tries if r is not None and not (last and r)), None)
        if rest is None:
            return False
        path = rest
    return not path


def _go_clean(path: str) -> str:
    """Go's filepath.Clean: posixpath.normpath, except that Go folds a leading '//' too."""
    return posixpath.normpath("/" + path.lstrip("/") if path.startswith("/") else path)


def read_ignore_file(text: str) -> list[str]:
    """Parse .dockerignore text like moby's ignorefile.ReadAll (a lone '!' raises)."""
    patterns: list[str] = []
    for n, raw in enumerate(text.split("\n")):
        line = raw.removeprefix("\ufeff") if n == 0 else raw
        line = "" if line.startswith("#") else line.strip(_GO_SPACE)
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip(_GO_SPACE)
            if not line:
                raise PatternError(raw, 'illegal exclusion pattern: "!"')
        line = _go_clean(line)
        line = line[1:] if len(line) > 1 and line[0] == "/" else line
        patterns.append("!" + line if invert else line)
    return patterns


def _class_regex(tok: _Tok, pattern: str) -> str:
    if any(lo > hi for lo, hi in tok.ranges):
        raise PatternError(pattern, "invalid character class range")
    body = "".join(re.escape(lo) + "-" + re.escape(hi) for lo, hi in tok.ranges)
    return f"[{'^' if tok.negated else ''}{body}]"


class _Rule(NamedTuple):
    text: str  # cleaned pattern without its '!'
    exclusion: bool
    matches: Callable[[str], bool]


def _matcher(kind: str, text: str, regex: str) -> Callable[[str], bool]:
    """patternmatcher's shortcuts: exact, prefix ('x**'), suffix ('**x'), else a regexp."""
    if kind == "exact":
        return lambda path: path == text
    if kind == "prefix":
        return lambda path: path.startswith(text[:-2])
    if kind == "suffix":
        suffix = text[2:]
        return lambda path: path.endswith(suffix) or ("/" + path == suffix)
    compiled = re.compile(regex)
    return lambda path: compiled.fullmatch(path) is not None


def _compile_ignore(text: str, exclusion: bool) -> _Rule:
    """Translate a cleaned pattern the way patternmatcher's compile does."""
    toks = list(_tokenize(text))
    kind, i = "exact", 0
    parts: list[str] = []
    while i < len(toks):
        tok, first = toks[i], i == 0
        i += 1
        if tok.kind == "star" and i < len(toks) and toks[i].kind == "star":
            i += 1
            if i < len(toks) and toks[i] == _Tok("lit", "/"):
                i += 1
            at_end = i == len(toks)
            kind = "prefix" if at_end and kind == "exact" else "regex"
            parts.append(".*" if at_end else "(?:.*/)?")
            kind = "suffix" if first else kind
        elif tok.kind == "lit":
            # patternmatcher also switches to a regexp on any escape or bare ']'
            kind = "regex" if tok.escaped or tok.char == "]" else kind
            parts.append(re.escape(tok.char))
        else:
            kind = "regex"
            parts.append({"star": "[^/]*", "any": "[^/]"}.get(tok.kind) or _class_regex(tok, text))
    return _Rule(text, exclusion, _matcher(kind, text, "".join(parts)))


def _trim_glob(text: str) -> str:
    """fsutil's patternWithoutTrailingGlob."""
    return text.removesuffix("/**").removesuffix("/*")


class IgnoreMatcher:
    """Compiled .dockerignore patterns (moby/patternmatcher), queried like BuildKit's walker.

    ``excludes`` replays fsutil's top-down walk, so a directory's matches stick to everything
    below it; ``may_include_below`` is fsutil's decision to descend into an excluded directory.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns: list[_Rule] = []
        for raw in filter(None, (p.strip(_GO_SPACE) for p in patterns)):
            text = _go_clean(raw)
            if text == "!":
                raise PatternError(raw, 'illegal exclusion pattern: "!"')
            exclusion = text.startswith("!")
            text = text[1:] if exclusion else text
            self._patterns.append(_compile_ignore(text, exclusion))
        self._exceptions = [p.text for p in self._patterns if p.exclusion]
        self._prefix_only = not any(c in _trim_glob(t) for t in self._exceptions for c in "*[]?^\\")
        self._dirs: dict[str, tuple[bool, tuple[bool, ...]]] = {}

    def _step(self, path: str, parent: tuple[bool, ...] | None) -> tuple[bool, tuple[bool, ...]]:
        """patternmatcher.MatchesUsingParentResults: last match wins, parents' hits stick."""
        matched, info = False, []
        for n, pat in enumerate(self._patterns):
            hit = parent is not None and parent[n]
            if not hit and pat.exclusion == matched:  # others are skipped, as in moby
                hit = pat.matches(path)
            info.append(hit)
            if hit:
                matched = not pat.exclusion
        return matched, tuple(info)

    def excludes(self, path: str) -> bool:
        """Whether BuildKit leaves path out of the context (excluded parents included)."""
        parts = _go_clean(path).lstrip("/").split("/")
        if parts in ([""], ["."]):
            return False
        matched, info, prefix = False, None, ""
        for n, seg in enumerate(parts):
            prefix = f"{prefix}/{seg}" if prefix else seg
            state = self._dirs.get(prefix) or self._step(prefix, info)
            if n < len(parts) - 1:
                self._dirs[prefix] = state
            matched, info = state
        return matched

    def may_include_below(self, dir_path: str) -> bool:
        """Whether a walker must descend into dir_path (fsutil's SkipDir decision, inverted)."""
        if not self.excludes(dir_path) or not self._prefix_only:
            return True
        dir_slash = _go_clean(dir_path).lstrip("/") + "/"
        return any((_trim_glob(t) + "/").startswith(dir_slash) for t in self._exceptions)
