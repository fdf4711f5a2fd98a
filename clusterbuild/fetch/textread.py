"""A value read out of a file, as an init.sh computes an image tag before listing the image:
``yq .a.b FILE``, ``helm show values DIR --jsonpath {.a.b}``, ``cat FILE | grep … | awk …``.

    read_yq(text, ".helper.imageTag")                       # the scalar, as yq prints it
    parse_run("grep '^VERSION=' | cut -d'\"' -f2").apply(text)

``parse_run`` reads a pipeline of text filters that are run here, on the file's text, never by
a shell: ``grep`` (-v -E -F -o -i -w -x -e), ``awk`` (-F, and a program that is one ``print``
of fields ``$N``/``$NF``/``$(NF-k)`` and strings), ``cut`` (-d -f), ``sed`` (what ``fetch.sed``
runs; -E), ``head``/``tail`` (-n), ``sort`` (-u -r -n; byte order), ``uniq``, ``tr`` (-d, or
a character map) and ``xargs`` with no command (the words on one line). Anything else raises
``UnsupportedRead`` with the reason. Pure: no I/O, the standard library and yaml only.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from clusterbuild.fetch.sed import UnsupportedSed, parse_sed, translate
from clusterbuild.fetch.yq import UnsupportedEdit, parse_path

Filter = Callable[[list[str]], list[str]]


class UnsupportedRead(ValueError):
    """The expression or pipeline is more than this module runs."""


@dataclass(frozen=True)
class Pipeline:
    filters: tuple[Filter, ...]

    def apply(self, text: str) -> str:
        """The pipeline's output for ``text``, lines joined with new lines."""
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for step in self.filters:
            lines = step(lines)
        return "".join(line + "\n" for line in lines)


def read_yq(text: str, expression: str) -> str:
    """What ``yq EXPRESSION`` prints for the one YAML document ``text``: a scalar as written
    (``1.10`` stays ``1.10``), ``null`` when the path is absent."""
    keys = yq_keys(expression)
    documents = [d for d in yaml.compose_all(text) if d is not None] if text.strip() else []
    if len(documents) > 1:
        raise UnsupportedRead(f"the file holds {len(documents)} YAML documents; yq would print one "
                              "value per document")
    node: yaml.Node | None = documents[0] if documents else None
    for key in keys:
        node = _child(node, key)
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        return "null"
    if not isinstance(node, yaml.ScalarNode):
        kind = "list" if isinstance(node, yaml.SequenceNode) else "map"
        raise UnsupportedRead(f"{expression} names a {kind}, not a value")
    return str(node.value)


def _child(node: yaml.Node | None, key: str | int) -> yaml.Node | None:
    if isinstance(key, int) and isinstance(node, yaml.SequenceNode):
        return node.value[key] if -len(node.value) <= key < len(node.value) else None
    if isinstance(key, str) and isinstance(node, yaml.MappingNode):
        found = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key]
        return found[-1] if found else None
    return None


def yq_keys(expression: str) -> list[str | int]:
    """The keys of a plain yq path (``.a."b.c"[0]``); UnsupportedRead for any other expression."""
    try:
        dotted = parse_path(expression.strip())
    except UnsupportedEdit as e:
        raise UnsupportedRead(str(e)) from None
    keys: list[str | int] = []
    for match in re.finditer(r"((?:\\.|[^.\[\\])+)|\[(\d+)\]", dotted):
        name, index = match.groups()
        keys.append(int(index) if index is not None else re.sub(r"\\(.)", r"\1", name))
    return keys


def jsonpath_as_yq(jsonpath: str) -> str:
    """``helm show values --jsonpath {.a.b}`` as the yq path ``.a.b``."""
    inner = jsonpath.strip()
    if not (inner.startswith("{.") and inner.endswith("}")) or re.search(r"[*?@()\s]", inner):
        raise UnsupportedRead(f"{jsonpath!r} is not a plain JSONPath like {{.a.b}}")
    path = inner[1:-1]
    yq_keys(path)
    return path


def parse_run(run: str) -> Pipeline:
    """The filters of ``run`` (``grep x | awk '{print $2}'``)."""
    try:
        lexer = shlex.shlex(run, posix=True, punctuation_chars="|")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError as e:
        raise UnsupportedRead(f"cannot split {run!r}: {e}") from None
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token == "|":
            commands.append([])
        elif set(token) == {"|"}:
            raise UnsupportedRead(f"{token!r} in {run!r} is not a pipe")
        else:
            commands[-1].append(token)
    if any(not c for c in commands):
        raise UnsupportedRead(f"{run!r} has an empty command")
    return Pipeline(tuple(_filter(c) for c in commands))


def _filter(words: list[str]) -> Filter:
    name, args = words[0], words[1:]
    builders: dict[str, Callable[[list[str]], Filter]] = {
        "grep": _grep, "awk": _awk, "cut": _cut, "sed": _sed, "head": _head, "tail": _tail,
        "sort": _sort, "uniq": _uniq, "tr": _tr, "xargs": _xargs}
    if name not in builders:
        raise UnsupportedRead(f"{name} is not one of the filters run here ({', '.join(builders)})")
    return builders[name](args)


def _flags(args: list[str], with_value: str, allowed: str, command: str) -> tuple[dict[str, str], list[str]]:
    """Short options (``-vE``, ``-d,``, ``-d ,``) and the operands."""
    flags: dict[str, str] = {}
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            operands += args[i + 1:]
            break
        if not arg.startswith("-") or arg == "-":
            operands.append(arg)
            i += 1
            continue
        j = 1
        while j < len(arg):
            char = arg[j]
            if char in with_value:
                value = arg[j + 1:] if j + 1 < len(arg) else (args[i + 1] if i + 1 < len(args) else None)
                if value is None:
                    raise UnsupportedRead(f"{command} -{char} needs a value")
                flags[char] = flags[char] + "\n" + value if char in flags and char == "e" else value
                i += 0 if j + 1 < len(arg) else 1
                break
            if char not in allowed:
                raise UnsupportedRead(f"{command} -{char} is not supported")
            flags[char] = ""
            j += 1
        i += 1
    return flags, operands


def _grep(args: list[str]) -> Filter:
    flags, operands = _flags(args, "e", "vEFoiwxr", "grep")
    if "r" in flags:
        raise UnsupportedRead("grep -r reads files, not the text piped into it")
    patterns = flags["e"].split("\n") if "e" in flags else operands[:1]
    if not patterns or len(operands) > (0 if "e" in flags else 1):
        raise UnsupportedRead("grep reads the text piped into it here: give one pattern and no file")
    try:
        sources = [re.escape(p) if "F" in flags else translate(p, "E" in flags) for p in patterns]
    except UnsupportedSed as e:
        raise UnsupportedRead(str(e)) from None
    if "w" in flags:
        sources = [rf"(?<!\w)(?:{s})(?!\w)" for s in sources]
    if "x" in flags:
        sources = [rf"^(?:{s})$" for s in sources]
    try:
        regex = re.compile("|".join(f"(?:{s})" for s in sources), re.IGNORECASE if "i" in flags else 0)
    except re.error as e:
        raise UnsupportedRead(f"grep: the pattern is not understood ({e})") from None
    invert, only = "v" in flags, "o" in flags

    def run(lines: list[str]) -> list[str]:
        if only and not invert:
            return [m.group() for line in lines for m in regex.finditer(line) if m.group()]
        return [line for line in lines if (regex.search(line) is None) == invert]
    return run


_FIELD = re.compile(r'\$(\d+)|\$NF|\$\(NF-(\d+)\)|"((?:[^"\\]|\\.)*)"|(\s+)|(,)')


def _awk(args: list[str]) -> Filter:
    flags, operands = _flags(args, "F", "", "awk")
    if len(operands) != 1:
        raise UnsupportedRead("awk reads the text piped into it here: give one program and no file")
    match = re.fullmatch(r"\s*\{\s*print\s+(.*?)\s*;?\s*\}\s*", operands[0], re.S)
    if match is None:
        raise UnsupportedRead(f"the awk program {operands[0]!r} is not one print of fields")
    items: list[list[tuple[str, object]]] = [[]]
    body, i = match.group(1), 0
    while i < len(body):
        token = _FIELD.match(body, i)
        if token is None:
            raise UnsupportedRead(f"awk: {body[i:]!r} is not a field ($N, $NF, $(NF-k)) or a string")
        number, back, string, _space, comma = token.groups()
        if comma:
            items.append([])
        elif number is not None:
            items[-1].append(("field", int(number)))
        elif back is not None:
            items[-1].append(("back", int(back)))
        elif string is not None:
            items[-1].append(("text", re.sub(r"\\(.)", _awk_escape, string)))
        elif token.group(0) == "$NF":
            items[-1].append(("back", 0))
        i = token.end()
    split = _awk_splitter(flags.get("F", " "))

    def value(fields: list[str], line: str, kind: str, arg: object) -> str:
        if kind == "text":
            return str(arg)
        index = int(str(arg)) if kind == "field" else len(fields) - int(str(arg))
        if kind == "field" and index == 0:
            return line
        return fields[index - 1] if 1 <= index <= len(fields) else ""

    def run(lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            fields = split(line)
            out.append(" ".join("".join(value(fields, line, k, a) for k, a in item) for item in items))
        return out
    return run


def _awk_escape(match: re.Match[str]) -> str:
    return {"t": "\t", "n": "\n"}.get(match.group(1), match.group(1))


def _awk_splitter(separator: str) -> Callable[[str], list[str]]:
    separator = separator.replace("\\t", "\t")
    if separator == " ":
        return lambda line: line.split()
    if len(separator) == 1:
        return lambda line: line.split(separator) if line else []
    try:
        regex = re.compile(translate(separator, extended=True))
    except (UnsupportedSed, re.error) as e:
        raise UnsupportedRead(f"awk -F {separator!r} is not understood ({e})") from None
    return lambda line: regex.split(line) if line else []


def _cut(args: list[str]) -> Filter:
    flags, operands = _flags(args, "df", "s", "cut")
    if "f" not in flags or operands:
        raise UnsupportedRead("cut: give -f and no file")
    delimiter = flags.get("d", "\t")
    if len(delimiter) != 1:
        raise UnsupportedRead(f"cut -d {delimiter!r}: the delimiter is one character")
    wanted: list[tuple[int, int]] = []
    for piece in flags["f"].split(","):
        found = re.fullmatch(r"(\d*)-?(\d*)", piece)
        if found is None or not piece or piece == "-":
            raise UnsupportedRead(f"cut -f {flags['f']!r} is not a list of fields")
        low = int(found.group(1) or 1)
        high = low if "-" not in piece else int(found.group(2) or 1 << 30)
        wanted.append((low, high))

    def run(lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            if delimiter not in line:
                if "s" not in flags:
                    out.append(line)
                continue
            fields = line.split(delimiter)
            kept = (f for n, f in enumerate(fields, 1) if any(a <= n <= b for a, b in wanted))
            out.append(delimiter.join(kept))
        return out
    return run


def _sed(args: list[str]) -> Filter:
    flags, operands = _flags(args, "e", "Er", "sed")
    scripts = flags["e"].split("\n") if "e" in flags else operands[:1]
    if not scripts or len(operands) > (0 if "e" in flags else 1):
        raise UnsupportedRead("sed reads the text piped into it here: give one script and no file")
    try:
        parsed = [parse_sed(s, "E" in flags or "r" in flags) for s in scripts]
    except UnsupportedSed as e:
        raise UnsupportedRead(str(e)) from None

    def run(lines: list[str]) -> list[str]:
        text = "".join(line + "\n" for line in lines)
        for script in parsed:
            text = script.apply(text)
        return text.split("\n")[:-1] if text else []
    return run


def _count(args: list[str], command: str) -> int:
    if len(args) == 1 and re.fullmatch(r"-\d+", args[0]):
        return int(args[0][1:])
    flags, operands = _flags(args, "n", "", command)
    if operands or not re.fullmatch(r"\d+", flags.get("n", "10")):
        raise UnsupportedRead(f"{command}: give -n N (a count of lines)")
    return int(flags.get("n", "10"))


def _head(args: list[str]) -> Filter:
    count = _count(args, "head")
    return lambda lines: lines[:count]


def _tail(args: list[str]) -> Filter:
    count = _count(args, "tail")
    return lambda lines: lines[len(lines) - count:] if count else []


def _sort(args: list[str]) -> Filter:
    flags, operands = _flags(args, "", "urn", "sort")
    if operands:
        raise UnsupportedRead("sort reads the text piped into it here: give no file")

    def number(line: str) -> tuple[float, str]:
        found = re.match(r"\s*(-?\d+(?:\.\d+)?)", line)
        return (float(found.group(1)) if found else 0.0, line)

    def run(lines: list[str]) -> list[str]:
        ordered = sorted(lines, key=number if "n" in flags else None, reverse="r" in flags)
        return list(dict.fromkeys(ordered)) if "u" in flags else ordered
    return run


def _uniq(args: list[str]) -> Filter:
    if args:
        raise UnsupportedRead("uniq: options and files are not supported")
    return lambda lines: [line for n, line in enumerate(lines) if n == 0 or lines[n - 1] != line]


def _tr_set(text: str) -> str:
    text = re.sub(r"\\([ntr\\])", lambda m: {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[m.group(1)], text)
    return re.sub(r"(.)-(.)", lambda m: "".join(chr(c) for c in range(ord(m.group(1)), ord(m.group(2)) + 1)),
                  text)


def _tr(args: list[str]) -> Filter:
    flags, operands = _flags(args, "", "d", "tr")
    if ("d" in flags and len(operands) != 1) or ("d" not in flags and len(operands) != 2):
        raise UnsupportedRead("tr: give -d SET, or SET1 SET2")
    source = _tr_set(operands[0])
    table: dict[int, int | None]
    if "d" in flags:
        table = {ord(c): None for c in source}
    else:
        target = _tr_set(operands[1])
        target = (target + target[-1:] * len(source))[:len(source)]
        table = {ord(a): ord(b) for a, b in zip(source, target, strict=True)}

    def run(lines: list[str]) -> list[str]:
        text = "".join(line + "\n" for line in lines).translate(table)
        return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n") if text else []
    return run


def _xargs(args: list[str]) -> Filter:
    if args:
        raise UnsupportedRead("xargs runs a command: only a bare xargs (the words on one line) is supported")

    def run(lines: list[str]) -> list[str]:
        try:
            words = shlex.split("\n".join(lines))  # xargs takes quotes off as the shell does
        except ValueError as e:
            raise UnsupportedRead(f"xargs: {e}") from None
        return [" ".join(words)] if words else []
    return run
