"""``sed -i`` and ``yq -i`` on files the script has: declared edits, or edits made at import.

On a download (a manifest, a file by URL, a chart's file, a directory of an archive) the edit
becomes ``edits: [{file, kind, expression}]`` of that input, run at build time. On a file the
script writes itself, or one committed in the app dir, the edit is made now, on the file the
conversion keeps (only with an expression known before the run). What ``fetch.sed`` cannot run
(``{...}`` blocks, hold space, ``r file``) stays a line to do by hand.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from clusterbuild.fetch.edits import edit_text
from clusterbuild.fetch.sed import UnsupportedSed, parse_sed
from clusterbuild.fetch.yq import UnsupportedEdit, parse_edits
from clusterbuild.importer.files import origin_of, stdout_target
from clusterbuild.importer.nodes import Simple
from clusterbuild.importer.options import SED, parse_options
from clusterbuild.importer.values import Expr, Origin, Text, Unknown

if TYPE_CHECKING:
    from clusterbuild.importer.walk import Walker


def sed(w: Walker, node: Simple) -> None:
    origin = origin_of(node)
    opts = parse_options(node.words[1:], SED)
    if not any(f.startswith("i") for f in opts.flags):
        if stdout_target(node):
            w.out.not_convertible(origin, "writes a file with sed")
        else:
            w.out.not_needed(origin, "prints")
        return
    extended = bool({"E", "r", "regexp-extended"} & opts.flags)
    given = [w for n, w in enumerate(node.words) if n and node.words[n - 1] in ("-e", "--expression")]
    scripts, paths = (given, opts.args) if given else (opts.args[:1], opts.args[1:])
    texts = [w.text(s) for s in scripts]
    unknown = next((t for t in texts if isinstance(t, Unknown)), None)
    if unknown is not None or not texts:
        w.out.not_convertible(origin, f"the sed script: {unknown.why if unknown else 'none'}")
        return
    expression = Text.of(*(p for n, t in enumerate(texts) if isinstance(t, Text)
                           for p in (("\n",) if n else ()) + t.parts))
    try:
        parse_sed(_sample(expression), extended)
    except UnsupportedSed as e:
        w.out.not_convertible(origin, f"{e}: keep an edited copy in the app dir")
        return
    for raw in paths:
        edit_file(w, raw, "sed", expression, extended, origin)


_READ_STDIN = re.compile(r"^(/(?:[^/\\]|\\.)*/)\s*r\s+/dev/stdin$")


def sed_reads_heredoc(w: Walker, cat: Simple, node: Simple, origin: Origin) -> bool:
    """``cat <<EOF | sed -i '/re/ r /dev/stdin' FILE``: the here-document's lines after each line
    matching re, as the declared edit ``/re/a\\<lines>`` (False: not this shape)."""
    heredocs = [r for r in cat.redirects if r.op in ("<<", "<<-") and r.body is not None]
    opts = parse_options(node.words[1:], SED)
    script = w.text(opts.args[0]) if node.words[0] == "sed" and opts.args else None
    shape = _READ_STDIN.match(script.literal or "") if isinstance(script, Text) else None
    if cat.words != ("cat",) or len(heredocs) != 1 or shape is None \
            or not any(f.startswith("i") for f in opts.flags):
        return False
    from clusterbuild.importer.expand import expand_here_document

    body = heredocs[0].body or ""
    lines = Text.of(body) if heredocs[0].quoted else expand_here_document(body, w.scope)
    if isinstance(lines, Unknown) or "\\" in "".join(p for p in lines.parts if isinstance(p, str)):
        why = lines.why if isinstance(lines, Unknown) else "they hold a backslash"
        w.out.not_convertible(origin, f"the inserted lines: {why}")
        return True
    parts = [p.replace("\n", "\\n") if isinstance(p, str) else p for p in lines.parts]
    if parts and isinstance(parts[-1], str):
        parts[-1] = parts[-1].removesuffix("\\n")
    expression = Text.of(shape.group(1), "a\\", *parts)
    extended = bool({"E", "r", "regexp-extended"} & opts.flags)
    for raw in opts.args[1:]:
        edit_file(w, raw, "sed", expression, extended, origin)
    return True


def yq_edit(w: Walker, raw_path: str, expression: Text, origin: Origin) -> None:
    """``yq -i EXPR FILE`` on a file that is not a pulled chart's values.yaml."""
    try:
        parse_edits(_sample(expression))
    except UnsupportedEdit as e:
        w.out.not_convertible(origin, str(e))
        return
    edit_file(w, raw_path, "yq", expression, False, origin)


def _sample(expression: Text) -> str:
    """The expression with each build-time value as a plain word, to check that it runs."""
    return "".join(p if isinstance(p, str) else "x" for p in expression.parts)


def edit_file(w: Walker, raw_path: str, kind: str, expression: Text, extended: bool, origin: Origin) -> None:
    path = w.path(raw_path)
    if isinstance(path, Unknown):
        w.out.not_convertible(origin, path.why)
        return
    edit: dict[str, Any] = {"file": path, "kind": kind, "expression": expression.template()}
    if extended:
        edit["extended"] = True
    noted = replace(origin, detail=f"edits {path}")
    if w.out.add_edit(path, edit, noted):
        return
    written = w.out.written.get(path)
    committed = w.committed(path) if written is None else None
    if written is None and committed is None:
        w.out.not_convertible(origin, f"edits {path}, which is neither a download nor in the app dir")
        return
    before = written.text if written is not None else Text.of(committed or "")
    after = _edited(before, kind, expression, extended)
    if after is None:
        names = ", ".join(sorted({p.code for p in expression.parts if isinstance(p, Expr)}))
        w.out.not_convertible(origin, f"edits {path} matching values known only at build time ({names})")
    elif written is not None:
        written.text, written.origins = after, [*written.origins, noted]
    else:
        w.out.write(path, after, noted, append=False)


def _edited(text: Text, kind: str, expression: Text, extended: bool) -> Text | None:
    """``text`` edited now; build-time values in either stay expressions. A sed pattern may name
    a value that the text holds as the same expression (``s#runner:${V}#runner:latest#`` of a
    list written with ``${V}``): it matches there, as one literal piece. None when the edit would
    have to match such a value otherwise (it is known only when the script runs)."""
    codes: list[str] = []

    def tokens(value: Text) -> str:
        out = []
        for part in value.parts:
            if isinstance(part, Expr):
                codes.append(part.code) if part.code not in codes else None
                out.append(f"\x00{codes.index(part.code)}\x00")
            else:
                out.append(part)
        return "".join(out)

    source, script = tokens(text), tokens(expression)
    if kind == "sed":
        parsed = parse_sed(script, extended)
        patterns = [getattr(p, "pattern", "") for c in parsed.commands for p in (c.pattern, c.address)]
        named = {t for pattern in patterns for t in re.findall(r"\x00\d+\x00", pattern)}
        quantified = any(re.search(r"\x00\d+\x00[*+?{]", pattern) for pattern in patterns)
        if quantified or any(t not in source for t in named):
            return None
    elif "\x00" in script:
        return None
    result = edit_text(source, kind, script, extended)
    parts: list[str | Expr] = []
    for n, piece in enumerate(result.split("\x00")):
        parts.append(Expr(codes[int(piece)]) if n % 2 and piece.isdigit() else piece)
    return Text.of(*parts)


def is_values_of(w: Walker, path: str) -> str | None:
    """The pulled chart whose values.yaml is ``path``."""
    match = re.fullmatch(r"charts/([^/]+)/values\.yaml", path)
    return match.group(1) if match and match.group(1) in w.out.charts else None
