"""Reading a parsed script in the order bash would run it, without running it.

Assignments are evaluated (``values``), functions are read where they are called (with their
arguments as ``$1``...), ``case``/``if`` on the architecture become an arch map, and other
conditions are not evaluated: every branch is read, and the report says so. Loops are not
unrolled. Each simple command goes to ``commands`` for its conversion.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

from clusterbuild.importer.collect import Collector, Skip
from clusterbuild.importer.commands import run_command, run_pipeline
from clusterbuild.importer.expand import Scope, expand_word
from clusterbuild.importer.idioms import ArchMapping, arch_case, arch_if, arch_test, substitution
from clusterbuild.importer.lexer import Unclosed, backtick_end, expansion_end
from clusterbuild.importer.nodes import (
    AndOr,
    Case,
    Function,
    Group,
    If,
    Loop,
    Node,
    Pipeline,
    Simple,
    is_message,
    text_of,
    touches_files,
)
from clusterbuild.importer.reads import download_read, file_read, read_name
from clusterbuild.importer.values import (
    ARCH,
    ARCH_NAME,
    VERSION,
    ChartByApp,
    Expr,
    HelmListing,
    Origin,
    Read,
    Text,
    Unknown,
    Value,
    literal,
)

DECLARE = ("export", "readonly", "local", "declare", "typeset")
PASS_THROUGH = ("$@", '"$@"', "$*", '"$*"')


class Walker:
    def __init__(self, app: str, committed: Callable[[str], str | None] = lambda path: None,
                 committed_dir: Callable[[str], bool] = lambda path: False,
                 committed_files: Callable[[str], list[str]] = lambda path: []) -> None:
        self.committed_files = committed_files  # the committed files at or under a path
        self.committed = committed  # the text of a file committed in the app dir, or None
        self.committed_dir = committed_dir  # is this a directory committed in the app dir?
        self.out = Collector()
        self.variables: dict[str, Value] = {}
        self.positional: list[Value] = [Text((Expr(ARCH),)), literal(app), Text((Expr(VERSION),))]
        self.functions: dict[str, Function] = {}
        self.called: set[str] = set()
        self.stack: list[str] = []
        self.arrays: dict[str, list[Text]] = {}  # arrays of known items, for loops over them
        self.cwd: str | Unknown = "."  # where relative paths start, relative to the app dir
        self.dirs: list[str | Unknown] = []  # pushd's stack, and cd's previous directory
        self.chart_reads: dict[str, Read] = {}  # chart versions by app version, named in image lists

    @property
    def scope(self) -> Scope:
        return Scope(self.variables, self.positional, releases=self.out.releases)

    def text(self, raw: str, reads: bool = False) -> Text | Unknown:
        """``raw`` expanded (``reads``: a value read out of a file is ``{{ read.<name> }}``)."""
        value = expand_word(raw, self.listing_scope() if reads else self.scope)
        if isinstance(value, Text | Unknown):
            return value
        return Unknown(f"{raw} holds a Helm search result")

    def path(self, raw: str) -> str | Unknown:
        """A path (a template) relative to the app dir, normalised; absolute when outside it."""
        value = self.text(raw)
        return value if isinstance(value, Unknown) else self.in_cwd(value.template())

    def in_cwd(self, template: str) -> str | Unknown:
        """The path of the file ``template`` in the current directory."""
        if isinstance(self.cwd, Unknown):
            return self.cwd
        return posixpath.normpath(posixpath.join(self.cwd, template))

    def change_dir(self, node: Simple) -> None:
        """``cd``, ``pushd``, ``popd``: where later relative paths are read from."""
        origin = Origin(node.line, node.text)
        name, args = node.words[0], [a for a in node.words[1:] if not a.startswith("-") or a == "-"]
        if name == "popd" or args == ["-"]:
            self.cwd = self.dirs.pop() if self.dirs else Unknown(f"`{node.text}` (line {node.line}) "
                                                                  "leaves an unknown directory")
            self.out.not_needed(origin, "paths after it are read from the app dir again"
                                if self.cwd == "." else f"paths after it are read from {self.cwd}")
            return
        self.dirs.append(self.cwd)  # for popd, and for cd -
        raw = " ".join(args)
        if not raw or any(s in raw for s in ("dirname", "BASH_SOURCE", "$0")):
            self.cwd = "."
            self.out.not_needed(origin, "the script runs in its app dir")
            return
        target = self.path(args[0])
        if isinstance(target, Unknown):
            self.cwd = Unknown(f"the directory after `cd` at line {node.line} is not known")
            self.out.not_convertible(origin, f"changes to a directory not known before the run: {target.why}")
        else:
            self.cwd = target
            self.out.not_needed(origin, f"paths after it are read from {target}")

    def run(self, nodes: Sequence[Node]) -> None:
        self.walk(nodes)
        for name, function in self.functions.items():
            if name not in self.called and function.body:
                self.out.not_needed(Origin(function.line, f"{name}()"), "the function is never called")

    def walk(self, nodes: Sequence[Node]) -> None:
        for node in nodes:
            self.visit(node)

    def visit(self, node: Node) -> None:
        if isinstance(node, Function):
            self.functions[node.name] = node
        elif isinstance(node, Simple):
            self.simple(node)
        elif isinstance(node, Pipeline):
            run_pipeline(self, node)
        elif isinstance(node, AndOr):
            self.and_or(node)
        elif isinstance(node, If):
            self.branching(node)
        elif isinstance(node, Case):
            self.case(node)
        elif isinstance(node, Loop):
            self.loop(node)
        elif isinstance(node, Group):
            self.walk(node.body)

    def and_or(self, node: AndOr) -> None:
        for op, part in node.parts:
            if op == "||" and self.stops(part):
                self.out.not_needed(Origin(part.line, text_of(part)), "error handling")
            else:
                self.visit(part)

    def stops(self, node: Node) -> bool:
        """Does ``node`` end the script (``|| { echo failed; exit 1; }``)?"""
        last = node.body[-1] if isinstance(node, Group) and node.body else node
        return (isinstance(last, Simple) and last.words[:1] in (("exit",), ("return",))) \
            or self.is_message([node])

    def simple(self, node: Simple) -> None:
        origin = Origin(node.line, node.text)
        for raw in node.assignments:
            self.assign(raw, origin)
        if not node.words:
            return
        name = self.text(node.words[0])
        if not isinstance(name, Text) or name.literal is None:
            self.out.not_convertible(origin, "runs a command named by a variable")
        elif len(name.literal.split()) > 1 and node.words[0][0] == "$":  # "$command" holding "helm -h"
            split = tuple(shlex.quote(w) for w in name.literal.split())
            self.simple(replace(node, assignments=(), words=split + node.words[1:]))
        elif name.literal in self.functions:
            self.call(self.functions[name.literal], node.words[1:], origin)
        elif name.literal in DECLARE:
            for word in node.words[1:]:
                if "=" in word and not word.startswith("-"):
                    self.assign(word, origin)
        else:
            run_command(self, name.literal, node)

    def call(self, function: Function, raw_args: Sequence[str], origin: Origin) -> None:
        if function.name in self.stack:
            self.out.not_convertible(origin, "a recursive call")
            return
        self.called.add(function.name)
        passed = tuple(raw_args) in [(p,) for p in PASS_THROUGH]
        saved = self.positional
        self.positional = saved if passed else [expand_word(a, self.scope) for a in raw_args]
        self.stack.append(function.name)
        try:
            self.walk(function.body)
        finally:
            self.positional = saved
            self.stack.pop()

    def assign(self, raw: str, origin: Origin) -> None:
        name, _, value_raw = raw.partition("=")
        self.arrays.pop(name, None)
        whole = not name.endswith("+") and "[" not in name
        if whole and value_raw.startswith("(") and value_raw.endswith(")"):
            items = [expand_word(item, self.scope) for item in value_raw[1:-1].split()]
            if all(isinstance(i, Text) for i in items):
                self.arrays[name] = [i for i in items if isinstance(i, Text)]
        if name.endswith("+") or "[" in name or value_raw.startswith("("):
            self.variables[name.rstrip("+").split("[")[0]] = Unknown(f"${name} is an array or built piece "
                                                                      "by piece")
            return
        inner = _substituted(value_raw)
        value: Value | ArchMapping = substitution(inner, self.scope) if inner is not None \
            else expand_word(value_raw, self.scope)
        read = file_read(inner, self.scope, self.in_cwd) if inner is not None else None
        if isinstance(read, dict) and isinstance(value, Unknown):
            self.variables[name] = self.add_read(name, read, origin, value.why)
            return
        fetched = download_read(inner, self.scope) if inner is not None else None
        if fetched is not None and isinstance(value, Unknown):  # read when locked, wherever it is named
            wanted = read_name(name, [*self.out.reads, *self.out.releases])
            self.out.release_origins.setdefault(wanted, origin)
            self.variables[name] = Read(wanted, f"${name} (line {origin.line}) {value.why}", fetched,
                                        scanned=False)
            return
        if isinstance(value, ArchMapping):
            self.set_arch(name, value.mapping, origin)
            return
        if isinstance(value, ChartByApp):
            value = replace(value, origin=replace(origin, detail="app_version"))
        elif isinstance(value, HelmListing):
            self.out.not_needed(origin, "lists chart versions: app_version picks the chart")
        elif isinstance(value, Unknown) and inner is not None:
            self.out.not_needed(origin, f"sets ${name} from a command's output; the commands using it "
                                "are reported")
        if isinstance(value, Unknown) and not value.why.startswith("$"):
            value = Unknown(f"${name} (line {origin.line}) {value.why}")
        if isinstance(value, Text):  # a latest release asked of GitHub: converted where it is named
            for part in value.parts:
                if isinstance(part, Expr) and part.code.startswith("releases."):
                    release = part.code.split(" ")[0].removeprefix("releases.")
                    self.out.release_origins.setdefault(release, origin)
        self.variables[name] = value

    def listing_scope(self) -> Scope:
        """The scope of an image list: values read out of files are reads, and so is a chart
        version picked by app version (the ``version`` of the pulled chart's Chart.yaml)."""
        variables = dict(self.variables)
        for name, value in self.variables.items():
            if not isinstance(value, ChartByApp):
                continue
            line = value.origin.line if value.origin is not None else -1
            chart = next((d for d in self.out.charts.values() if "app_version" in d.fields
                          and any(o.line == line for o in d.origins)), None)  # the first pulled by it
            if chart is not None and name not in self.chart_reads:
                self.chart_reads[name] = self.add_read(
                    name, {"file": f"{chart.where}/Chart.yaml", "yq": ".version"},
                    value.origin or Origin(chart.line, ""), "holds a Helm search result")
            if name in self.chart_reads:
                variables[name] = self.chart_reads[name]
        return Scope(variables, self.positional, True, self.out.releases)

    def add_read(self, wanted: str, spec: dict[str, Any], origin: Origin, why: str) -> Read:
        """A value read out of a file (``images.read``), for image lists to name; of a download,
        also a release the lock reads, for any other line to name."""
        name = read_name(wanted, [*self.out.reads, *self.out.releases])
        self.out.reads[name] = (spec, replace(origin, detail=f"images.read.{name}"))
        source = self.out.downloaded(spec["file"])
        release = None
        if source is not None:
            url, member = source
            release = {"url": url, **({"file": member} if member else {}),
                       **{k: v for k, v in spec.items() if k in ("yq", "run")}}
            self.out.release_origins.setdefault(name, origin)
            self.out.read_releases[name] = release
        return Read(name, f"${wanted} (line {origin.line}) {why}", release, spec["file"])

    def set_arch(self, name: str, mapping: dict[str, str], origin: Origin) -> None:
        if not mapping:
            self.variables[name] = Text((Expr(ARCH),))
        elif self.out.set_arch_map(mapping, origin):
            self.variables[name] = Text((Expr(ARCH_NAME),))
        else:
            self.variables[name] = Unknown(f"${name} (line {origin.line}) is a second arch map")
            self.out.not_convertible(origin, "a second, different arch map")

    def branching(self, node: If) -> None:
        origin = Origin(node.line, text_of(node))
        mapping = arch_if(node, self.scope, self.is_message)
        if mapping is not None:
            self.set_arch(mapping.variable, mapping.mapping, origin)
            self.walk_messages([body for _, body in node.branches] + [node.otherwise])
            return
        for condition, body in node.branches:  # a test on known text: only the branch taken
            outcome = self.decided(condition)
            if outcome is None:
                break
            if outcome:
                self.walk(body)
                return
        else:
            self.walk(node.otherwise)
            return
        bodies = [body for _, body in node.branches] + [node.otherwise]
        on_arch = any(arch_test(condition, self.scope) for condition, _ in node.branches)
        self.conditional(origin, bodies, node.end_line, on_arch)

    def case(self, node: Case) -> None:
        origin = Origin(node.line, text_of(node))
        mapping = arch_case(node, self.scope, self.is_message)
        if mapping is not None:
            self.set_arch(mapping.variable, mapping.mapping, origin)
            self.walk_messages([body for _, body in node.arms])
            return
        on_arch = expand_word(node.subject, self.scope) == Text((Expr(ARCH),))
        self.conditional(origin, [body for _, body in node.arms], node.end_line, on_arch)

    def walk_messages(self, bodies: list[tuple[Node, ...]]) -> None:
        """Report the error branches of an arch map (``*) echo unsupported; exit 1``)."""
        for body in bodies:
            if body and self.is_message(body):
                self.walk(body)

    def conditional(self, origin: Origin, bodies: list[tuple[Node, ...]], end_line: int,
                    on_arch: bool) -> None:
        if any(body and self.is_message(body) for body in bodies):
            self.out.not_needed(origin, "a check that stops the script")
        elif any(self.touches_files(body) for body in bodies):
            why = "tests the architecture: every branch was converted; restrict inputs with platforms:" \
                if on_arch else "every branch was converted: check that each applies"
            self.out.skips.append(Skip(origin, f"not evaluated ({why})", end_line))
        for body in bodies:
            self.walk(body)

    def loop(self, node: Loop) -> None:
        origin = Origin(node.line, node.header)
        unrolled = self.items(node.header)
        if unrolled is not None and self.touches_files(node.body):
            name, items = unrolled
            self.out.not_needed(origin, f"a loop over {len(items)} known items: each is read", node.end_line)
            for item in items:
                self.variables[name] = item
                self.walk(node.body)
            return
        if self.touches_files(node.body):
            self.out.not_convertible(origin, "a loop: write one input per item", node.end_line)
        else:
            self.out.not_needed(origin, "a loop that places no file", node.end_line)

    def items(self, header: str) -> tuple[str, list[Text]] | None:
        """The variable and the items of ``for NAME in WORDS`` when every item is known."""
        words = header.split()
        if len(words) < 4 or words[0] != "for" or words[2] != "in":
            return None
        array = re.fullmatch(r'"?\$\{(\w+)\[[@*]\]\}"?', words[3]) if len(words) == 4 else None
        if array is not None:
            known = self.arrays.get(array.group(1))
            return (words[1], known) if known is not None else None
        values = [expand_word(w, self.scope) for w in words[3:]]
        if all(isinstance(v, Text) and v.is_literal and not any(c in (v.literal or "") for c in "*?[")
               for v in values):
            return words[1], [v for v in values if isinstance(v, Text)]
        return None

    def decided(self, condition: Sequence[Node]) -> bool | None:
        """The outcome of ``[[ "$x" == lit ]]`` / ``[ a != b ]`` on known literal text (None: not known)."""
        if len(condition) != 1 or not isinstance(condition[0], Simple):
            return None
        words = [w for w in condition[0].words if w not in ("[", "]", "[[", "]]", "test")]
        if len(words) != 3 or words[1] not in ("=", "==", "!="):
            return None
        left, right = expand_word(words[0], self.scope), expand_word(words[2], self.scope)
        if not (isinstance(left, Text) and isinstance(right, Text) and left.literal is not None
                and right.literal is not None):
            return None
        pattern = "[[" in condition[0].words  # [[ a == b* ]] matches a pattern; [ a = b ] compares
        same = fnmatchcase(left.literal, right.literal) if pattern else left.literal == right.literal
        return same if words[1] != "!=" else not same

    def is_message(self, nodes: Sequence[Node]) -> bool:
        return is_message(nodes, self.functions)

    def touches_files(self, nodes: Sequence[Node]) -> bool:
        return touches_files(nodes, self.functions)


def _substituted(raw: str) -> str | None:
    """The command of a value that is one ``$(...)`` or backtick substitution, quoted or not."""
    text = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    try:
        if text.startswith("$(") and not text.startswith("$((") and expansion_end(text, 0) == len(text):
            return text[2:-1]
        if text.startswith("`") and backtick_end(text, 1) == len(text):
            return text[1:-1]
    except Unclosed:
        return None
    return None
