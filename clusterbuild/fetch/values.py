"""Editing a chart's ``values.yaml`` at build time: set or delete keys by dotted path.

What the catalogue does with ``yq -i`` after ``helm pull``, e.g. nulling ``image.digest`` so the
run-time mirror can copy images by tag. A path is keys joined by ``.``, with ``\\.`` for a dot
inside a key (``podAnnotations.prometheus\\.io/scrape``) and ``[n]`` for a list index
(``containers[0].image``); a backslash escapes any character. Deletes run first, then sets.
Setting under a missing (or null) parent creates maps (a list for an index, which must then
be 0); deleting a missing key does nothing. Key order is kept; comments are not.

Errors: a malformed path, or a path through a scalar, is an ``InputError`` naming the path;
a ``values.yaml`` that is not a YAML map is a ``BuildError``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from clusterbuild.errors import BuildError, InputError
from clusterbuild.schema.bounded_yaml import YamlLimit, load_bounded

Token = str | int
_INDEX = re.compile(r"\[(\d+)\]")


def parse_path(path: str) -> list[Token]:
    """``a.b\\.c[0].d`` -> ``["a", "b.c", 0, "d"]``."""
    tokens: list[Token] = []
    key, expecting_key, i = "", True, 0
    while i < len(path):
        char = path[i]
        if char == "\\" and i + 1 < len(path):
            key, i = key + path[i + 1], i + 2
            continue
        if char in ".[" and expecting_key:
            tokens.append(_key(key, path))
        if char == "[":
            index = _INDEX.match(path, i)
            if index is None or (index.end() < len(path) and path[index.end()] not in ".["):
                raise InputError(f"values path {path!r}: a list index is written [n], followed by . or [",
                                 hint="write list indexes as a[0].b")
            tokens.append(int(index.group(1)))
            key, expecting_key, i = "", False, index.end()
            continue
        if char == ".":
            key, expecting_key = "", True
        else:
            key += char
        i += 1
    if expecting_key:
        tokens.append(_key(key, path))
    return tokens


def _key(key: str, path: str) -> str:
    if not key:
        raise InputError(f"values path {path!r} has an empty key", hint="write keys as a.b, dots as \\.")
    return key


def edit_values(text: str, set_: Mapping[str, Any], delete: Sequence[str]) -> str:
    """``text`` (a values.yaml) with the ``delete`` paths removed and the ``set_`` paths set."""
    try:
        data = load_bounded(text)
    except YamlLimit as e:
        raise InputError(f"values.yaml: {e.field or f'line {e.line}'}: {e.problem}",
                         hint="the chart's values.yaml is refused; pin another chart version") from None
    except yaml.YAMLError as e:
        raise BuildError(f"values.yaml is not valid YAML ({type(e).__name__})",
                         hint="check the chart's values.yaml") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise BuildError(f"values.yaml holds a {type(data).__name__}, not a map")
    edit_data(data, set_, delete)
    try:
        text = _dump(data, readable=True)
        # PyYAML writes YAML's own line breaks (NEL, LS, PS) raw when allowed Unicode, and
        # they read back as spaces: then escape everything outside ASCII instead.
        return text if yaml.safe_load(text) == data else _dump(data, readable=False)
    except yaml.representer.RepresenterError as e:
        raise InputError(f"a values change sets something YAML cannot hold: {e.args[-1]!r}") from None


def edit_data(data: dict[str, Any], set_: Mapping[str, Any], delete: Sequence[str]) -> None:
    """Remove the ``delete`` paths of ``data``, then set the ``set_`` paths (in place)."""
    for path in delete:
        _delete(data, parse_path(path))
    for path, value in set_.items():
        _set(data, parse_path(path), copy.deepcopy(value), path)


def _dump(data: dict[str, Any], readable: bool) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=readable, default_flow_style=False,
                          width=4096)


def _set(data: dict[str, Any], tokens: list[Token], value: Any, path: str) -> None:
    node: Any = data
    for depth, token in enumerate(tokens[:-1]):
        node = _child(node, token, tokens[depth + 1], path)
    last = tokens[-1]
    if isinstance(last, str) or last < len(node):
        node[last] = value
    elif last == len(node):
        node.append(value)
    else:
        raise InputError(f"values path {path!r}: index {last} is past the end of a list of {len(node)}")


def _child(node: Any, token: Token, following: Token, path: str) -> Any:
    """The container under ``node[token]``, created when missing or null."""
    fresh: dict[str, Any] | list[Any] = {} if isinstance(following, str) else []
    if isinstance(token, str):
        if token not in node or node[token] is None:
            node[token] = fresh
        child = node[token]
    elif token < len(node):
        if node[token] is None:
            node[token] = fresh
        child = node[token]
    elif token == len(node):
        node.append(fresh)
        child = fresh
    else:
        raise InputError(f"values path {path!r}: index {token} is past the end of a list of {len(node)}")
    wanted = dict if isinstance(following, str) else list
    if not isinstance(child, wanted):
        kind = "map" if wanted is dict else "list"
        raise InputError(f"values path {path!r}: {token!r} holds a {type(child).__name__}, not a {kind}",
                         hint="check the path against values.yaml")
    return child


def _delete(data: dict[str, Any], tokens: list[Token]) -> None:
    node: Any = data
    for token in tokens[:-1]:
        node = _lookup(node, token)
        if node is None:
            return
    last = tokens[-1]
    if isinstance(last, str) and isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(last, int) and isinstance(node, list) and last < len(node):
        del node[last]


def _lookup(node: Any, token: Token) -> Any:
    if isinstance(token, str) and isinstance(node, dict):
        return node.get(token)
    if isinstance(token, int) and isinstance(node, list) and token < len(node):
        return node[token]
    return None
