"""Commands in issue text, found as a reader sees them, with every token checked.

A command is a line of plain text that starts with ``/image`` (up to three spaces before
it), outside fenced code blocks, indented code, ``>`` quotes, HTML comments and HTML
``<pre>``/``<code>`` blocks: text that shows a command is not a request to run it. Only
space and tab separate its arguments (any other whitespace is a character the tokens
refuse). One command per text; a second is a refusal.

    /imagebuild_apps <app> <version>
    /imagebuild_dockerimages <name> <version> [KEY=VALUE ...]  (or KEY=VALUE,KEY2=VALUE2)
    /imagesync <image>

Names and versions are ``[A-Za-z0-9._-]`` starting with a letter or digit (so never an
option, never ``..``), at most 128 characters; an image reference also allows ``/ : @``.
Refusal reasons never repeat a rejected value: they name its characters instead.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from clusterbuild.oci.reference import Reference, ReferenceError

BUILD_APPS = "/imagebuild_apps"
BUILD_DOCKERIMAGES = "/imagebuild_dockerimages"
SYNC = "/imagesync"
USAGE = {
    BUILD_APPS: f"{BUILD_APPS} <app> <version>",
    BUILD_DOCKERIMAGES: f"{BUILD_DOCKERIMAGES} <name> <version> [KEY=VALUE ...]",
    SYNC: f"{SYNC} <image>",
}
MAX_TEXT = 20_000  # characters of a text that carries a command
MAX_LINE = 512  # characters of the command line
MAX_TOKEN = 128  # an app, name or version (an OCI tag is at most 128)
MAX_IMAGE = 255
MAX_BUILD_ARGS = 16
TOKEN_CHARS = "[A-Za-z0-9._-]"
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TOKEN_CHAR = re.compile(TOKEN_CHARS)
_IMAGE_CHAR = re.compile(r"[A-Za-z0-9._/:@-]")
_ARG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_ARG_VALUE_CHAR = re.compile(r"[A-Za-z0-9._:/@+-]")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what Markdown calls a line ending, nothing else
_SEPARATOR = re.compile(r"[ \t]+")
_HTML_CODE_OPEN = re.compile(r"<(pre|code)(\s[^>]*)?>", re.IGNORECASE)
_HTML_CODE_CLOSE = re.compile(r"</(pre|code)\s*>", re.IGNORECASE)


class Refusal(Exception):
    """A command the bot will not run; ``str()`` is the reason, safe to show anywhere."""


@dataclass(frozen=True)
class Command:
    name: str  # one of BUILD_APPS, BUILD_DOCKERIMAGES, SYNC
    args: tuple[str, ...]  # checked tokens (an image reference for SYNC)
    line: int  # 1-based line of the text
    build_args: tuple[tuple[str, str], ...] = ()  # BUILD_DOCKERIMAGES only

    @property
    def target(self) -> str:
        """The app or image name the command is about (the issue title names it)."""
        return self.args[0]

    def __str__(self) -> str:
        extra = [f"{key}={value}" for key, value in self.build_args]
        return " ".join((self.name, *self.args, *extra))


def find_command(text: str) -> Command | None:
    """The one command of ``text``; None when there is none; Refusal when it is not usable."""
    lines = list(command_lines(text))
    if not lines:
        return None
    if len(lines) > 1:
        where = ", ".join(str(number) for number, _ in lines[:5])
        raise Refusal(f"one command per comment: found {len(lines)} (lines {where}); "
                      "post each command as its own comment")
    if len(text) > MAX_TEXT:
        raise Refusal(f"the text is {len(text)} characters long; a command is read from a text "
                      f"of at most {MAX_TEXT} characters (post it as a short comment)")
    return parse_command(*lines[0])


def command_lines(text: str) -> Iterator[tuple[int, str]]:
    """The (line number, stripped line) of each visible line that starts with ``/image``
    (in any letter case, so that ``/ImageSync`` is refused as unknown, not ignored)."""
    fence = ""
    in_comment = in_code = False
    for number, line in enumerate(_LINE_BREAK.split(text), 1):
        if fence:
            fence = "" if _closes(line, fence) else fence
        elif in_comment:
            in_comment = "-->" not in line
        elif in_code:
            in_code = not _HTML_CODE_CLOSE.search(line)
        elif opened := _FENCE.match(line):
            fence = opened.group(1)
        else:
            stripped = line.lstrip(" ")
            visible = len(line) - len(stripped) <= 3 and not stripped.startswith(("\t", ">"))
            if visible and stripped[:6].lower() == "/image":
                yield number, stripped.rstrip(" \t")
            in_comment = line.rfind("<!--") > line.rfind("-->")  # opened, not closed
            in_code = _html_code_left_open(line)


def _html_code_left_open(line: str) -> bool:
    """Does ``line`` open a ``<pre>`` or ``<code>`` element it does not close?"""
    opened = list(_HTML_CODE_OPEN.finditer(line))
    closed = list(_HTML_CODE_CLOSE.finditer(line))
    return bool(opened) and (not closed or closed[-1].start() < opened[-1].start())


def _closes(line: str, fence: str) -> bool:
    closing = _FENCE.match(line)
    return (closing is not None and closing.group(1)[0] == fence[0]
            and len(closing.group(1)) >= len(fence) and not line[closing.end():].strip())


def parse_command(number: int, line: str) -> Command:
    if len(line) > MAX_LINE:
        raise Refusal(f"the command line is {len(line)} characters long; at most {MAX_LINE}")
    name, *args = _SEPARATOR.split(line.strip(" \t"))
    if name not in USAGE:
        known = ", ".join(USAGE)
        close = difflib.get_close_matches(_safe(name).lower(), list(USAGE), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise Refusal(f"unknown command on line {number}; the bot knows {known}{hint}")
    if name == SYNC:
        _count(name, args, 1, 1)
        return Command(name, (check_image(args[0]),), number)
    if name == BUILD_APPS:
        _count(name, args, 2, 2)
        return Command(name, (check_token(args[0], "app"), check_token(args[1], "version")),
                       number)
    _count(name, args, 2, 2 + MAX_BUILD_ARGS)
    tokens = (check_token(args[0], "name"), check_token(args[1], "version"))
    return Command(name, tokens, number, check_build_args(args[2:]))


def _count(name: str, args: list[str], least: int, most: int) -> None:
    if not least <= len(args) <= most:
        raise Refusal(f"{name} takes {least}{'' if least == most else f' to {most}'} "
                      f"arguments, not {len(args)}: {USAGE[name]}")


def check_token(value: str, what: str) -> str:
    if len(value) > MAX_TOKEN:
        raise Refusal(f"the {what} is {len(value)} characters long; at most {MAX_TOKEN}")
    bad = [c for c in value if not _TOKEN_CHAR.fullmatch(c)]
    if bad:
        raise Refusal(f"the {what} has characters outside {TOKEN_CHARS}: {describe(bad)}")
    if not _TOKEN.fullmatch(value):
        raise Refusal(f"the {what} must start with a letter or a digit")
    return value


def check_image(value: str) -> str:
    if len(value) > MAX_IMAGE:
        raise Refusal(f"the image reference is {len(value)} characters long; at most {MAX_IMAGE}")
    bad = [c for c in value if not _IMAGE_CHAR.fullmatch(c)]
    if bad:
        raise Refusal("the image reference has characters outside [A-Za-z0-9._/:@-]: "
                      f"{describe(bad)}")
    try:
        return str(Reference.parse(value))
    except ReferenceError as exc:
        raise Refusal(f"{exc} (e.g. quay.io/org/image:tag)") from None


def check_build_args(args: list[str]) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` arguments, each its own word or several in one, comma-separated, as the
    catalogue writes them (``Key1=Value1,Key2=Value2``)."""
    pairs: dict[str, str] = {}
    split = [part for arg in args for part in arg.split(",")]
    if len(split) > MAX_BUILD_ARGS:
        raise Refusal(f"at most {MAX_BUILD_ARGS} build arguments, not {len(split)}")
    for number, arg in enumerate(split, 1):
        key, equals, value = arg.partition("=")
        if not equals or not _ARG_KEY.fullmatch(key):
            raise Refusal(f"build argument {number} is not KEY=VALUE with a KEY of "
                          "[A-Za-z_][A-Za-z0-9_]*")
        bad = [c for c in value if not _ARG_VALUE_CHAR.fullmatch(c)]
        if bad or len(value) > MAX_TOKEN:
            raise Refusal(f"the value of build argument {key} must be at most {MAX_TOKEN} "
                          f"characters of [A-Za-z0-9._:/@+-]" + (f": {describe(bad)}" if bad else ""))
        if key in pairs:
            raise Refusal(f"build argument {key} is given twice")
        pairs[key] = value
    return tuple(pairs.items())


def describe(chars: list[str]) -> str:
    """Characters by code point and Unicode name: ``U+003B SEMICOLON`` (safe to print)."""
    unique = list(dict.fromkeys(chars))
    named = [f"U+{ord(c):04X} {unicodedata.name(c, 'control character')}" for c in unique[:4]]
    more = f" and {len(unique) - 4} more" if len(unique) > 4 else ""
    return ", ".join(named) + more


def _safe(text: str) -> str:
    return "".join(c for c in text if _TOKEN_CHAR.fullmatch(c) or c == "/")[:MAX_TOKEN]
