"""The YAML walk (full mode): images in parsed documents, where the line scan misses them.

Each document of a file is parsed on its own (a broken one is skipped, the others
are still read), so flow style (``{name: a, image: nginx}``), trailing comments
and block scalars are read as YAML means them. Found:

- ``image`` of every container: ``containers``, ``initContainers`` and
  ``ephemeralContainers`` at any depth (Pods, workloads, CronJob ``jobTemplate``, CRs);
- ``image:`` keys anywhere, as a string or as a map ``{registry, repository, tag, digest}``;
- keys ending in ``image`` (``sidecarImage``) and container env vars named ``*IMAGE*``
  when the value names a tag or digest; container ``--flag=<registry>/<name>:<tag>`` args.

With ``strict`` (raw manifests) a container image that is not a reference and not a
template (``{{ }}``, ``${}``) is an InputError naming file:line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal, TypeGuard

import yaml

from clusterbuild.discover.line_scan import parse_lenient, parse_strict
from clusterbuild.discover.model import Hit
from clusterbuild.oci.reference import Reference

CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})
COMMAND_LISTS = frozenset({"args", "command"})
Rule = Literal["container", "plain", "explicit", "flag"]
Candidate = tuple[int, str, Rule]  # (0-based line in the document, text, rule)

_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$|^---[ \t]", re.MULTILINE)
_TEMPLATED = re.compile(r"\{\{|\$\{|\$\(|[<>\s]")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"


def walk_text(text: str, source: str, *, strict: bool, lines: bool = True) -> Iterator[Hit]:
    """Hits of every document of ``text``; sources are ``<source>:<line>`` (or ``source``)."""
    for first_line, document in split_documents(text):
        try:
            root = yaml.compose(document, Loader=_LOADER)
        except yaml.YAMLError:
            continue  # not YAML (a Go template, a broken document): the line scan still ran
        if root is None:
            continue
        for line, value, rule in walk_node(root):
            number = first_line + line + 1
            where = f"{source}:{number}" if lines else source
            reference = _resolve(value, rule, where if strict else "")
            if reference is not None:
                yield Hit(reference, where)


def split_documents(text: str) -> Iterator[tuple[int, str]]:
    """(0-based first line, text) of each ``---``-separated document."""
    start, line = 0, 0
    for match in _SEPARATOR.finditer(text):
        yield line, text[start:match.start()]
        line += text.count("\n", start, match.start())
        start = match.start()
    yield line, text[start:]


def walk_node(node: yaml.Node, container: bool = False) -> Iterator[Candidate]:
    """Candidates below ``node``; ``container`` marks a container spec mapping."""
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from walk_node(item)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
        if key in CONTAINER_LISTS and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                yield from walk_node(item, container=True)
            continue
        yield from _keyed(key, value, container)
        yield from walk_node(value)


def _keyed(key: str, value: yaml.Node, container: bool) -> Iterator[Candidate]:
    line = value.start_mark.line
    if key == "image" and isinstance(value, yaml.MappingNode):
        composed = _compose(value)
        if composed:
            yield line, composed, "plain"
    elif not _is_text(value):  # a list, a map, or null/true/5: names no image
        if container and isinstance(value, yaml.SequenceNode):
            yield from _container_list(key, value)
    elif key == "image":
        yield line, value.value, "container" if container else "plain"
    elif key.lower().endswith("image"):
        yield line, value.value, "explicit"


def _container_list(key: str, value: yaml.SequenceNode) -> Iterator[Candidate]:
    """``env`` entries named ``*IMAGE*`` and ``--flag=<image>`` entries of args/command."""
    for item in value.value:
        if key == "env" and isinstance(item, yaml.MappingNode):
            fields = {k.value: v for k, v in item.value if isinstance(k, yaml.ScalarNode)}
            name, text = fields.get("name"), fields.get("value")
            if isinstance(name, yaml.ScalarNode) and _is_text(text) and "IMAGE" in str(name.value).upper():
                yield text.start_mark.line, str(text.value), "explicit"
        elif key in COMMAND_LISTS and _is_text(item):
            flag, equals, text = str(item.value).partition("=")
            if flag.startswith("-") and equals:
                yield item.start_mark.line, text, "flag"


def _is_text(node: yaml.Node | None) -> TypeGuard[yaml.ScalarNode]:
    return isinstance(node, yaml.ScalarNode) and node.tag == _STR


def _compose(node: yaml.MappingNode) -> str:
    """``registry/repository:tag@digest`` from an image map; "" without a repository."""
    fields = {str(k.value): str(v.value) for k, v in node.value
              if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode) and v.value}
    repository = fields.get("repository") or fields.get("name", "")
    if not repository or _TEMPLATED.search(repository):
        return ""
    text = f"{fields['registry'].rstrip('/')}/{repository}" if fields.get("registry") else repository
    if fields.get("tag"):
        text += f":{fields['tag']}"
    if fields.get("digest"):
        text += f"@{fields['digest']}"
    return text


def _resolve(text: str, rule: Rule, strict_where: str) -> Reference | None:
    text = text.strip()
    if rule == "container" and strict_where and text and not _TEMPLATED.search(text):
        return parse_strict(text, strict_where, "fix the container's image: field")
    reference = parse_lenient(text)
    if reference is None or rule in ("container", "plain"):
        return reference
    explicit = ":" in text.rpartition("/")[2] or "@" in text
    if rule == "flag":
        explicit = explicit and "/" in text and any(c in text.partition("/")[0] for c in ".:")
    return reference if explicit and "://" not in text else None

