"""YAML that a small hostile file cannot turn into a large problem.

``load_bounded(text)`` parses like ``yaml.safe_load`` and refuses, with ``YamlLimit``:

* aliases that expand past ``MAX_NODES`` nodes ("billion laughs": each alias is counted
  as many times as it is used, as every later reader — validation, hashing — walks it);
* nesting deeper than ``MAX_DEPTH`` (counted through aliases too), and recursive aliases;
* the same key twice in a mapping (YAML says keys are unique; PyYAML keeps the last one,
  silently dropping the first, e.g. every app of a first ``apps:``).

The check runs on the composed node graph, before any Python object is built, in time
linear in the size of the text. Parsing and composing use libyaml when PyYAML has it (the
pure-Python parser was most of the time of reading a 400-app apps.yaml), with the nesting
counted on its event stream first; a text libyaml refuses is parsed again in Python, so
errors read the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

MAX_DEPTH = 64
MAX_NODES = 200_000


@dataclass
class YamlLimit(Exception):
    field: str  # key path, e.g. "apps.web.versions"
    problem: str
    hint: str
    line: int = 0


class _Composer(yaml.SafeLoader):
    """Counts nesting while composing, so a 10 000-deep document never reaches Python's
    recursion limit."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlLimit("", f"nested deeper than {MAX_DEPTH} levels", "flatten the document",
                                mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _path(parent: str, key: object) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


class _Walk:
    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}  # id(node) -> expanded size
        self.open: set[int] = set()

    def size(self, node: yaml.Node, where: str, depth: int) -> int:
        known = self.sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in self.open:
            raise YamlLimit(where, "an alias refers to a node that contains it", "remove the recursion",
                            node.start_mark.line + 1)
        if depth > MAX_DEPTH:
            raise YamlLimit(where, f"nested deeper than {MAX_DEPTH} levels (through aliases)",
                            "flatten the document", node.start_mark.line + 1)
        self.open.add(id(node))
        total = 1 + self._children(node, where, depth)
        self.open.discard(id(node))
        if total > MAX_NODES:
            raise YamlLimit(where, f"aliases expand to more than {MAX_NODES} values",
                            "write the values out instead of nesting aliases", node.start_mark.line + 1)
        self.sizes[id(node)] = total
        return total

    def _children(self, node: yaml.Node, where: str, depth: int) -> int:
        if isinstance(node, yaml.SequenceNode):
            return sum(self.size(item, _path(where, i), depth + 1) for i, item in enumerate(node.value))
        if not isinstance(node, yaml.MappingNode):
            return 0
        seen: set[object] = set()
        total = 0
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "<complex key>"
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if name in seen:
                    raise YamlLimit(_path(where, name), "the key appears twice in one mapping (the "
                                    "second would silently replace the first)",
                                    "merge the two entries into one", key.start_mark.line + 1)
                seen.add(name)
            total += self.size(key, where, depth + 1) + self.size(value, _path(where, name), depth + 1)
        return total


_NODE_EVENTS = (yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)
_OPEN_EVENTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE_EVENTS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _check_depth(events: Any) -> None:
    """``_Composer``'s depth rule on an event stream: a node inside n collections is at n + 1."""
    open_collections = 0
    for event in events:
        if isinstance(event, _NODE_EVENTS) and open_collections + 1 > MAX_DEPTH:
            mark = event.start_mark
            raise YamlLimit("", f"nested deeper than {MAX_DEPTH} levels", "flatten the document",
                            mark.line + 1 if mark is not None else 0)
        if isinstance(event, _OPEN_EVENTS):
            open_collections += 1
        elif isinstance(event, _CLOSE_EVENTS):
            open_collections -= 1


def _libyaml_node(text: str) -> tuple[Any, Any] | None:
    """(loader, node) composed by libyaml, or None when it is missing or refuses the text."""
    c_loader = getattr(yaml, "CSafeLoader", None)
    if c_loader is None:
        return None
    try:
        _check_depth(yaml.parse(text, Loader=c_loader))
        loader = c_loader(text)
        try:
            return loader, loader.get_single_node()
        except BaseException:
            loader.dispose()
            raise
    except yaml.YAMLError:
        return None  # parsed again in Python: its messages are the ones users see


def load_bounded(text: str) -> Any:
    """The document of ``text``, checked; YamlLimit or yaml.YAMLError when it is refused."""
    fast = _libyaml_node(text)
    if fast is not None:
        loader, node = fast
        try:
            if node is None:
                return None
            _Walk().size(node, "", 0)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    loader = _Composer(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _Walk().size(node, "", 0)
        return loader.construct_document(node)
    finally:
        loader.dispose()
