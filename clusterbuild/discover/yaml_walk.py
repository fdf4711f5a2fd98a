"""The YAML walk (full mode): images in parsed documents, where the line scan misses them.

Each document of a file is parsed on its own (a broken one is skipped, the others
are still read), so flow style (``{name: a, image: nginx}``), trailing comments
and block scalars are read as YAML means them. Found, with the rule that says so:

- ``image`` of every container: ``containers``, ``initContainers`` and
  ``ephemeralContainers`` at any depth (Pods, workloads, CronJob ``jobTemplate``, CRs)
  — ``YAML walk: containers[0].image``;
- ``image:`` keys anywhere, as a string or as a map ``{registry, repository, tag, digest}``
  — ``YAML walk: image``;
- keys ending in ``image`` (``sidecarImage``) and container env vars named ``*IMAGE*``
  when the value names a tag or digest — ``YAML walk: sidecarImage``, ``env SIDECAR_IMAGE``;
- container arguments: ``--flag=<registry>/<name>:<tag>`` (``argument --flag=``), and a
  flag whose name says image followed by the reference as the next item
  (``- --sidecar-image`` / ``- repo/x:1``: ``argument pair --sidecar-image``);
- config text in any string value (TOML, INI, JSON, YAML held in a ConfigMap or an
  argument, see ``config_text``) — ``config text image``.

What runs an image is noted after the rule: the ``runtimeClassName`` of the pod spec
above a container (``YAML walk: containers[0].image (runtimeClassName wasmtime-spin-v2,
wasm)``), and a Spin operator ``SpinApp``'s ``spec.image`` (``YAML walk: image (SpinApp,
wasm)``). A runtime class is called wasm when its name has a word of a wasm runtime in it
(``WASM_RUNTIME_WORDS``: spin, wasmtime, wasmedge, wasmer, slight, wws, lunatic, wasm).

With ``strict`` (raw manifests) a container image that is not a reference and not a
template (``{{ }}``, ``${}``) is an InputError naming file:line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal, TypeGuard

import yaml

from clusterbuild.discover.config_text import config_references, holds_config, is_tagged
from clusterbuild.discover.line_scan import parse_lenient, parse_strict
from clusterbuild.discover.model import Hit, Where, located
from clusterbuild.oci.reference import Reference

CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})
COMMAND_LISTS = frozenset({"args", "command"})
Kind = Literal["container", "plain", "explicit", "flag"]

_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$|^---[ \t]", re.MULTILINE)
_TEMPLATED = re.compile(r"\{\{|\$\{|\$\(|[<>\s]")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
WASM_RUNTIME_WORDS = frozenset({"wasm", "spin", "wasmtime", "wasmedge", "wasmer", "slight", "wws", "lunatic"})
_WORDS = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Candidate:
    line: int  # 0-based, in the document
    text: str
    kind: Kind
    rule: str  # what --why shows: "YAML walk: containers[0].image"


def walk_text(text: str, where: Where, *, strict: bool) -> Iterator[Hit]:
    """Hits of every document of ``text``; sources are ``where`` with the line number."""
    for first_line, document in split_documents(text):
        try:
            root = yaml.compose(document, Loader=_LOADER)
        except yaml.YAMLError:
            continue  # not YAML (a Go template, a broken document): the line scan still ran
        if root is None:
            continue
        for candidate in walk_node(root):
            source = located(where, first_line + candidate.line + 1)
            reference = _resolve(candidate.text, candidate.kind, source if strict else "")
            if reference is not None:
                yield Hit(reference, source, rule=candidate.rule)


def split_documents(text: str) -> Iterator[tuple[int, str]]:
    """(0-based first line, text) of each ``---``-separated document."""
    start, line = 0, 0
    for match in _SEPARATOR.finditer(text):
        yield line, text[start:match.start()]
        line += text.count("\n", start, match.start())
        start = match.start()
    yield line, text[start:]


def walk_node(node: yaml.Node, container: str = "", note: str = "") -> Iterator[Candidate]:
    """Candidates below ``node``; ``container`` names a container spec (``containers[0]``),
    ``note`` what runs the images below (``runtimeClassName x``), shown after the rule."""
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from walk_node(item, note=note)
        return
    if _is_text(node):
        yield from _noted(_config_text(node), note)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    note = runtime_note(node) or note
    for key_node, value in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
        if key in CONTAINER_LISTS and isinstance(value, yaml.SequenceNode):
            for number, item in enumerate(value.value):
                yield from walk_node(item, container=f"{key}[{number}]", note=note)
            continue
        yield from _noted(_keyed(key, value, container), note)
        yield from walk_node(value, note=note)


def runtime_note(node: yaml.MappingNode) -> str:
    """What runs the images of this mapping: a pod spec's runtime class, a SpinApp; or ""."""
    fields = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    kind, runtime = fields.get("kind"), fields.get("runtimeClassName")
    if _is_text(kind) and kind.value == "SpinApp":
        return "SpinApp, wasm"
    if _is_text(runtime) and runtime.value:
        wasm = not WASM_RUNTIME_WORDS.isdisjoint(_WORDS.findall(str(runtime.value).lower()))
        return f"runtimeClassName {runtime.value}" + (", wasm" if wasm else "")
    return ""


def _noted(candidates: Iterator[Candidate], note: str) -> Iterator[Candidate]:
    for candidate in candidates:
        yield replace(candidate, rule=f"{candidate.rule} ({note})") if note else candidate


def _keyed(key: str, value: yaml.Node, container: str) -> Iterator[Candidate]:
    line = value.start_mark.line
    if key == "image" and isinstance(value, yaml.MappingNode):
        composed = _compose(value)
        if composed:
            yield Candidate(line, composed, "plain", "YAML walk: image{registry,repository,tag}")
    elif not _is_text(value):  # a list, a map, or null/true/5: names no image
        if container and isinstance(value, yaml.SequenceNode):
            yield from _container_list(key, value)
    elif key == "image":
        yield Candidate(line, value.value, "container" if container else "plain",
                        f"YAML walk: {container}.image" if container else "YAML walk: image")
    elif key.lower().endswith("image"):
        yield Candidate(line, value.value, "explicit", f"YAML walk: {key}")


def _container_list(key: str, value: yaml.SequenceNode) -> Iterator[Candidate]:
    """``env`` entries named ``*IMAGE*`` and the image arguments of args/command."""
    if key in COMMAND_LISTS:
        yield from _arguments(value.value)
        return
    for item in value.value:
        if key == "env" and isinstance(item, yaml.MappingNode):
            fields = {k.value: v for k, v in item.value if isinstance(k, yaml.ScalarNode)}
            name, text = fields.get("name"), fields.get("value")
            if isinstance(name, yaml.ScalarNode) and _is_text(text) and "IMAGE" in str(name.value).upper():
                yield Candidate(text.start_mark.line, str(text.value), "explicit", f"env {name.value}")


def _arguments(items: list[yaml.Node]) -> Iterator[Candidate]:
    """``--flag=<image>`` items, and ``--some-image`` followed by ``<image>`` as the next item."""
    for position, item in enumerate(items):
        if not _is_text(item):
            continue
        word = str(item.value)
        flag, equals, text = word.partition("=")
        if flag.startswith("-") and equals:
            yield Candidate(item.start_mark.line, text, "flag", f"argument {flag}=")
        elif word.startswith("-") and "image" in word.lower() and position + 1 < len(items):
            following = items[position + 1]
            if _is_text(following) and not str(following.value).startswith("-"):
                yield Candidate(following.start_mark.line, str(following.value), "explicit",
                                f"argument pair {word}")


def _config_text(node: yaml.ScalarNode) -> Iterator[Candidate]:
    text = str(node.value)
    if ("\n" not in text and "=" not in text and "{" not in text) or not holds_config(text):
        return
    first = node.start_mark.line + (1 if node.style in ("|", ">") else 0)
    for offset, key, value in config_references(text):
        yield Candidate(first + offset, value, "explicit", f"config text {key}")


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


def _resolve(text: str, kind: Kind, strict_where: str) -> Reference | None:
    text = text.strip()
    if kind == "container" and strict_where and text and not _TEMPLATED.search(text):
        return parse_strict(text, strict_where, "fix the container's image: field")
    reference = parse_lenient(text)
    if reference is None or kind in ("container", "plain"):
        return reference
    explicit = is_tagged(text)
    if kind == "flag":
        explicit = explicit and "/" in text and any(c in text.partition("/")[0] for c in ".:")
    return reference if explicit else None
