"""Values a script reads out of its files to list images: ``images.read`` of the spec.

    tag=$(helm show values charts/openebs --jsonpath {.helper.imageTag})   # yq .helper.imageTag
    tag=$(yq .spec.image.tag manifests/db.yaml)                           # also cat FILE | yq ...
    tag=$(cat scripts/install.sh | grep "^VERSION=" | awk -F '"' '{print $2}')
    cat charts/x/values.yaml | grep Image | awk '{print $2}' > images/shim/list

Each becomes a named read ``{file, yq}`` or ``{file, run}`` that clusterbuild evaluates on the
build context when it scans the images (``fetch.textread`` runs the same filters), and the
image list names it: ``docker.io/openebs/linux-utils:{{ read.tag }}``. Only image lists may use
a read at scan time. A read of a file that is a download (a chart by URL, an archive extracted
whole) is also a release, ``{url, file, run | yq}``, that ``clusterbuild lock`` reads: any line
may name it (a download URL), and image lists do once the script removes the file. So is a
read of what a download prints (``$(curl -s URL | grep … | awk …)``: ``download_read``).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clusterbuild.fetch.textread import UnsupportedRead, jsonpath_as_yq, parse_run, yq_keys
from clusterbuild.importer.expand import Scope, expand_word
from clusterbuild.importer.lexer import ShellSyntaxError
from clusterbuild.importer.nodes import AndOr, Group, Node, Pipeline, Simple
from clusterbuild.importer.syntax import parse_script
from clusterbuild.importer.values import Read, Text, Unknown

PathOf = Callable[[str], "str | Unknown"]
_FILTERS = ("grep", "awk", "cut", "sed", "head", "tail", "sort", "uniq", "tr", "xargs")


def file_read(inner: str, scope: Scope, path_of: PathOf) -> dict[str, Any] | str | None:
    """The read ``$(inner)`` is (``{file, yq}`` or ``{file, run}``); why not when it reads a file
    but cannot be converted; None when it is no read of a file."""
    try:
        nodes = parse_script(inner)
    except ShellSyntaxError:
        return None
    if len(nodes) != 1:
        return None
    node = nodes[0]
    commands = node.commands if isinstance(node, Pipeline) and not node.negated else (node,)
    commands = tuple(_forgiven(c) for c in commands)
    simple = [c for c in commands if isinstance(c, Simple) and c.words and not c.redirects]
    if not simple or len(simple) != len(commands):
        return None
    return read_of(simple, scope, path_of)


def _forgiven(node: Node) -> Node:
    """``(grep x || true)`` in a pipeline is ``grep x``: only its exit status differs."""
    body = node.body if isinstance(node, Group) and len(node.body) == 1 else ()
    parts = body[0].parts if body and isinstance(body[0], AndOr) else ()
    if len(parts) == 2 and parts[1][0] == "||" and isinstance(parts[1][1], Simple) \
            and parts[1][1].words in (("true",), (":",)) and isinstance(parts[0][1], Simple):
        return parts[0][1]
    return node


def read_of(commands: Sequence[Simple], scope: Scope, path_of: PathOf) -> dict[str, Any] | str | None:
    first, rest = commands[0].words, commands[1:]
    if first[:3] == ("helm", "show", "values") and not rest:
        return _helm_values(first[3:], scope, path_of)
    if first[0] == "yq" and not rest:
        return _yq(first[1:], None, scope, path_of)
    if first[0] == "cat" and len(first) == 2 and len(rest) == 1 and rest[0].words[0] == "yq":
        return _yq(rest[0].words[1:], first[1], scope, path_of)
    if first[0] == "cat" and len(first) == 2 and rest and all(c.words[0] in _FILTERS for c in rest):
        return _run(first[1], [c.words for c in rest], scope, path_of)
    if first[0] == "grep" and len(first) >= 3 and not first[-1].startswith("-") \
            and all(c.words[0] in _FILTERS for c in rest):
        return _run(first[-1], [first[:-1], *(c.words for c in rest)], scope, path_of)
    return None


def _file(raw: str, scope: Scope, path_of: PathOf) -> str | Unknown:
    value = expand_word(raw, scope)
    if not isinstance(value, Text):
        return Unknown(f"the file {raw} is not known before the run")
    return path_of(value.template())


def _helm_values(args: Sequence[str], scope: Scope, path_of: PathOf) -> dict[str, Any] | str | None:
    words = [w for w in args]
    jsonpath = None
    for n, word in enumerate(words):
        if word.startswith("--jsonpath="):
            jsonpath = word.split("=", 1)[1]
            words[n] = ""
        elif word == "--jsonpath" and n + 1 < len(words):
            jsonpath, words[n], words[n + 1] = words[n + 1], "", ""
    operands = [w for w in words if w]
    if jsonpath is None or len(operands) != 1 or operands[0].startswith("-"):
        return None
    literal = expand_word(jsonpath, scope)
    chart = _file(operands[0], scope, path_of)
    if isinstance(chart, Unknown):
        return chart.why
    if not isinstance(literal, Text) or literal.literal is None:
        return f"the JSONPath {jsonpath} is known only when the script runs"
    try:
        return {"file": f"{chart}/values.yaml", "yq": jsonpath_as_yq(literal.literal)}
    except UnsupportedRead as e:
        return str(e)


def _yq(args: Sequence[str], piped: str | None, scope: Scope, path_of: PathOf) -> dict[str, Any] | str | None:
    words = [w for w in args if w not in ("-r", "--raw-output", "-e", "--exit-status")]
    if words[:1] in (["e"], ["eval"]):
        words = words[1:]
    if any(w.startswith("-") for w in words) or len(words) != (1 if piped else 2):
        return None
    expression = expand_word(words[0], scope)
    target = _file(piped or words[1], scope, path_of)
    if isinstance(target, Unknown):
        return target.why
    if not isinstance(expression, Text) or expression.literal is None:
        return f"the yq expression {words[0]} is known only when the script runs"
    try:
        yq_keys(expression.literal)
    except UnsupportedRead as e:
        return str(e)
    return {"file": target, "yq": expression.literal}


def _run(raw_file: str, filters: Sequence[Sequence[str]], scope: Scope, path_of: PathOf
         ) -> dict[str, Any] | str | None:
    target = _file(raw_file, scope, path_of)
    if isinstance(target, Unknown):
        return target.why
    run = filters_run(filters, scope)
    return run if isinstance(run, str) else {"file": target, "run": run.text}


@dataclass(frozen=True)
class Run:
    text: str  # a ``run`` of ``fetch.textread``


_FETCH_QUIET = ("-s", "--silent", "-L", "--location", "-sL", "-Ls", "-fsSL", "-sSL", "-fsL", "-f", "-q")
_TO_STDOUT = ("-qO-", "-O-", "-qO", "-O")  # wget: -qO- URL, or -O - URL


def download_read(inner: str, scope: Scope) -> dict[str, str] | None:
    """``$(curl -s URL | grep … | awk …)``: a value read out of a download (``{url, run}``,
    a release the lock reads), or None when ``inner`` is no such read."""
    try:
        nodes = parse_script(inner)
    except ShellSyntaxError:
        return None
    node = nodes[0] if len(nodes) == 1 else None
    if not isinstance(node, Pipeline) or node.negated:
        return None
    commands = [_forgiven(c) for c in node.commands]
    simple = [c for c in commands if isinstance(c, Simple) and c.words and not c.redirects]
    if len(simple) != len(commands) or simple[0].words[0] not in ("curl", "wget") \
            or not all(c.words[0] in _FILTERS for c in simple[1:]):
        return None
    url = _download_url(simple[0].words, scope)
    run = filters_run([c.words for c in simple[1:]], scope)
    if url is None or isinstance(run, str):
        return None
    return {"url": url, "run": run.text}


def _download_url(words: Sequence[str], scope: Scope) -> str | None:
    """The one URL ``curl``/``wget`` writes to stdout, when its options change nothing else."""
    values = [expand_word(w, scope) for w in words[1:]]
    if not all(isinstance(v, Text) for v in values):
        return None
    texts = [v.template() for v in values if isinstance(v, Text)]
    urls = [t for t in texts if t.startswith(("https://", "http://"))]
    options = [t for t in texts if t not in urls and t != "-"]
    to_stdout = words[0] == "curl" or any(o in _TO_STDOUT for o in options)
    allowed = _FETCH_QUIET + (_TO_STDOUT if words[0] == "wget" else ())
    if len(urls) != 1 or not to_stdout or any(o not in allowed for o in options):
        return None
    if words[0] == "wget" and any(o in ("-qO", "-O") for o in options) and "-" not in texts:
        return None
    return urls[0]


def filters_run(filters: Sequence[Sequence[str]], scope: Scope) -> Run | str:
    """The filters as a ``run`` of ``fetch.textread``, or why not."""
    words: list[list[str]] = []
    for command in filters:
        words.append([])
        for raw in command:
            value = expand_word(raw, scope)
            if not isinstance(value, Text):
                return f"{raw} is known only when the script runs"
            words[-1].append(shlex.quote(value.template()))
    run = " | ".join(" ".join(command) for command in words)
    if "{{" not in run and "{%" not in run:
        try:
            parse_run(run)
        except UnsupportedRead as e:
            return str(e)
    return Run(run)


_TERM = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(\.[^\s+"]*))\s*(\+|$)')


def yq_concat(expression: str) -> list[str | tuple[str]] | str:
    """``.image.registry + "/" + .image.repository``: strings and (paths), or why not."""
    parts: list[str | tuple[str]] = []
    i = 0
    while i < len(expression):
        term = _TERM.match(expression, i)
        if term is None or term.end() == i:
            return f"{expression!r} is not paths and strings joined with +"
        string, path, _ = term.groups()
        if path is not None:
            try:
                yq_keys(path)
            except UnsupportedRead as e:
                return str(e)
            parts.append((path,))
        else:
            parts.append(json.loads(f'"{string}"'))
        i = term.end()
    return parts


def read_name(wanted: str, taken: Sequence[str]) -> str:
    """A name for a read (a jinja identifier, not taken yet)."""
    base = re.sub(r"\W+", "_", wanted).strip("_") or "value"
    base = base if not base[0].isdigit() else f"v_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def used_reads(text: Text) -> list[str]:
    """The reads an image list's text names."""
    return [p.code.split(".", 1)[1] for p in text.parts
            if not isinstance(p, str) and p.code.startswith("read.")]


__all__ = ["Read", "file_read", "read_name", "read_of", "used_reads"]
