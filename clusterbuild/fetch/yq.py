"""``yq -i`` expressions the catalogue runs (on a chart's values.yaml, or any YAML file), as edits.

    parse_edits('.controller.image.digest = null | del(.a."b.c")')
    # -> Edits(set={"controller.image.digest": None}, delete=["a.b\\.c"])

Supported: assignments of a scalar (``null``, booleans, numbers, quoted or bare strings) to a
path, ``path += {map}`` (a shallow merge: each key of the map set under the path) and
``del(path, ...)``, joined with ``|``. Paths are ``.key``, ``."quoted key"``,
``["key"]`` and ``[n]``; they come out in the dotted form of ``values.set``/``values.delete``
(``\\.`` for a dot inside a key). Anything else (``+=`` of a value, ``strenv()``, references to other
paths) raises ``UnsupportedEdit`` with the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

_KEY = re.compile(r"\.([A-Za-z0-9_/-]+)|\.?\"((?:[^\"\\]|\\.)*)\"|\.?\[\"((?:[^\"\\]|\\.)*)\"\]|\[(\d+)\]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class UnsupportedEdit(ValueError):
    """The expression is not a plain set or delete of values."""


@dataclass
class Edits:
    set: dict[str, Any] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)


def parse_edits(expression: str) -> Edits:
    edits = Edits()
    for term in _split(expression, "|"):
        term = term.strip()
        if term.startswith("del(") and term.endswith(")"):
            edits.delete += [parse_path(p.strip()) for p in _split(term[4:-1], ",")]
            continue
        merged = re.fullmatch(r"(\S+)\s*\+=\s*(\{.*\})", term, re.S)
        if merged is not None:
            edits.set.update(_merged(merged.group(1), merged.group(2)))
            continue
        parts = _split(term, "=")
        if len(parts) != 2:
            raise UnsupportedEdit(f"{term!r} is not `.path = value` or `del(.path)`")
        edits.set[parse_path(parts[0].strip())] = parse_scalar(parts[1].strip())
    return edits


def _merged(path: str, mapping: str) -> dict[str, Any]:
    """``.a += {"k": v}``: a shallow merge, each key of the map set under the path."""
    try:
        value = yaml.safe_load(mapping)
    except yaml.YAMLError:
        value = None
    if not isinstance(value, dict) or not value:
        raise UnsupportedEdit(f"{mapping!r} is not a map of plain values")
    prefix = "" if path == "." else parse_path(path) + "."
    return {prefix + str(k).replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\["): v
            for k, v in value.items()}


def _split(text: str, separator: str) -> list[str]:
    """``text`` split on ``separator`` outside quotes and brackets."""
    parts, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote and text[i - 1] != "\\" else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0 and not _doubled(text, i):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _doubled(text: str, i: int) -> bool:
    """``==``, ``|=``, ``+=`` and friends are not the separators they contain."""
    before, after = text[i - 1:i] if i else "", text[i + 1:i + 2]
    if text[i] == "|":
        return after == "="
    return text[i] == "=" and (after == "=" or before in ("=", "|", "+", "-", "*", "/", "!", "<", ">"))


def parse_path(text: str) -> str:
    """A yq path as a dotted values path: ``.a."b.c"[0]`` -> ``a.b\\.c[0]``."""
    out, i = "", 0
    if text == "." or not text.startswith((".", "[")):
        raise UnsupportedEdit(f"{text!r} is not a path like .a.b")
    while i < len(text):
        match = _KEY.match(text, i)
        if match is None:
            raise UnsupportedEdit(f"{text!r} is not a plain path (at {text[i:]!r})")
        key, quoted, bracketed, index = match.groups()
        if index is not None:
            out += f"[{index}]"
        else:
            name = key if key is not None else json.loads(f'"{quoted if quoted is not None else bracketed}"')
            escaped = name.replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[")
            out += ("." if out else "") + escaped
        i = match.end()
    return out


def parse_scalar(text: str) -> Any:
    """The value of a yq scalar literal."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return json.loads(text)
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    if text in ("null", "~"):
        return None
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER.match(text):
        return yaml.safe_load(text)
    raise UnsupportedEdit(f"{text!r} is not a plain value (null, true, false, a number or a quoted string)")
