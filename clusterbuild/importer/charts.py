"""Charts: ``helm repo add`` and ``helm pull`` as chart inputs, ``yq -i`` on their values.yaml as
values edits.

A pull names its repository by the alias ``helm repo add`` gave it (or ``--repo``, an
``oci://`` reference, a chart URL); ``--version`` is a chart version, or the app version when
it comes from the catalogue's ``helm search | grep`` idiom (``ChartByApp``). Only a chart
unpacked into ``charts/`` (``--untar -d charts``) converts: that is where the input puts it.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from clusterbuild.fetch.yq import UnsupportedEdit, parse_edits
from clusterbuild.importer.expand import expand_word
from clusterbuild.importer.files import origin_of, stdout_target
from clusterbuild.importer.nodes import Simple
from clusterbuild.importer.options import HELM, HELM_TEMPLATE, YQ, Options, parse_options
from clusterbuild.importer.values import ChartByApp, Expr, Origin, Text, Unknown

if TYPE_CHECKING:
    from clusterbuild.importer.walk import Walker


def helm(w: Walker, node: Simple) -> None:
    origin = origin_of(node)
    sub = node.words[1] if len(node.words) > 1 else ""
    if sub == "repo" and node.words[2:3] == ("add",):
        _repo_add(w, node, origin)
    elif sub == "repo":
        w.out.not_needed(origin, "clusterbuild lock reads the chart index")
    elif sub in ("pull", "fetch"):
        _pull(w, node, origin)
    elif sub == "search":
        w.out.not_needed(origin, "app_version picks the chart version")
    elif sub in ("version", "-h", "--help", "help", "env"):
        w.out.not_needed(origin, "checks a tool")
    elif sub == "template":
        template(w, node, stdout_target(node), origin)
    else:
        w.out.not_convertible(origin, f"runs helm {sub}")


def template(w: Walker, node: Simple, target_raw: str | None, origin: Origin) -> None:
    """``helm template [NAME] CHART --set ... > FILE``: see ``rendered``."""
    from clusterbuild.importer.rendered import Rendered, template_values

    words = [w.text(word) for word in node.words[2:]]
    unknown = next((v for v in words if isinstance(v, Unknown)), None)
    target = w.path(target_raw) if target_raw else None
    if unknown is not None or isinstance(target, Unknown):
        w.out.not_convertible(origin, f"renders a chart: {(unknown or target).why}")  # type: ignore[union-attr]
        return
    exprs: dict[str, str] = {}  # a stand-in word -> the template it stands for, in --set values
    args = [_standing_in(v, exprs) for v in words if isinstance(v, Text)]
    positional = parse_options(args, HELM_TEMPLATE).args
    chart = w.path(positional[-1]) if positional else Unknown("no chart")
    if isinstance(chart, Unknown) or any(e in chart for e in exprs):
        why = chart.why if isinstance(chart, Unknown) else "its path is known only at build time"
        w.out.not_convertible(origin, f"renders a chart: {why}")
        return
    values = template_values(args, posixpath.join(chart, "values.yaml"))
    if exprs and not isinstance(values, str):
        values = _templated(values, exprs)
        if _stands_in(values, exprs):  # a stand-in outside a value string (a key, a list)
            w.out.not_convertible(origin, "renders a chart with values known only at build time "
                                  "outside a value: write them in an image profile by hand")
            return
    if isinstance(values, str):
        w.out.not_convertible(origin, values)
    elif target is None:
        w.out.not_needed(origin, "prints a render")
    else:
        w.out.rendered.append(Rendered(target, values, origin, chart, tuple(_templated(args, exprs))))


def _standing_in(value: Text, exprs: dict[str, str]) -> str:
    """The word with each expression replaced by a stand-in (``--set`` syntax reads braces)."""
    out = []
    for part in value.parts:
        if isinstance(part, str):
            out.append(part)
        else:
            token = f"CLUSTERBUILDEXPR{len(exprs)}X"
            exprs[token] = "{{ " + part.code + " }}"
            out.append(token)
    return "".join(out)


def _templated(value: Any, exprs: dict[str, str]) -> Any:
    """Stand-ins in the value strings put back as templates."""
    if isinstance(value, dict):
        return {k: _templated(v, exprs) for k, v in value.items()}
    if isinstance(value, list):
        return [_templated(v, exprs) for v in value]
    if isinstance(value, str):
        for token, template in exprs.items():
            value = value.replace(token, template)
    return value


def _stands_in(value: Any, exprs: dict[str, str]) -> bool:
    return any(token in json.dumps(value) for token in exprs)


def _repo_add(w: Walker, node: Simple, origin: Origin) -> None:
    args = parse_options(node.words[3:], HELM).args
    values = [w.text(a) for a in args] if len(args) == 2 else [Unknown("expects a name and a URL")]
    unknown = next((v for v in values if isinstance(v, Unknown)), None)
    if unknown is not None:
        w.out.not_convertible(origin, unknown.why)
        return
    alias, url = (v.template() for v in values if isinstance(v, Text))
    w.out.repos[alias] = (url.strip(), replace(origin, detail="repo"))


def _pull(w: Walker, node: Simple, origin: Origin) -> None:
    opts = parse_options(node.words[2:], HELM)
    problem = _pull_problem(w, opts)
    source = problem if problem is not None else _chart_source(w, opts.args[0], opts.values.get("repo"))
    if isinstance(source, str):
        w.out.not_convertible(origin, source)
        return
    fields, origins = source
    version = _chart_version(w, opts.values.get("version"), fields)
    if isinstance(version, str):
        w.out.not_convertible(origin, version)
        return
    where = _untar_dir(w, opts.values)
    extra = {"dir": where} if isinstance(where, str) and where != "charts" else {}
    w.out.chart(fields | version[0] | extra, [*origins, *version[1], origin])


def _pull_problem(w: Walker, opts: Options) -> str | None:
    if len(opts.args) != 1:
        return "pulls more than one chart"
    if "untar" not in opts.flags:
        return "keeps the chart archive: clusterbuild unpacks charts into charts/<name>/"
    where = _untar_dir(w, opts.values)
    return where.why if isinstance(where, Unknown) else None


def _untar_dir(w: Walker, values: Mapping[str, str]) -> str | Unknown:
    """The directory ``helm pull --untar`` unpacks into (``-d``, ``--untardir``)."""
    where = [w.path(values.get(k, ".")) for k in ("destination", "untardir")]
    unknown = next((p for p in where if isinstance(p, Unknown)), None)
    if unknown is not None:
        return Unknown(f"the destination: {unknown.why}")
    path = posixpath.normpath(posixpath.join(*map(str, where)))
    if path == "." or path.startswith(("/", "../")):
        return Unknown(f"unpacks the chart into {path}/, outside a directory of the app dir")
    return path


def _chart_source(w: Walker, raw: str, repo_raw: str | None) -> tuple[dict[str, Any], list[Origin]] | str:
    """The chart's name and where it comes from (and the ``helm repo add`` naming its repository)."""
    ref = w.text(raw)
    repo = w.text(repo_raw) if repo_raw else None
    if isinstance(ref, Unknown):
        return f"the chart: {ref.why}"
    if isinstance(repo, Unknown):
        return f"the repository: {repo.why}"
    text = ref.template()
    if repo is not None:
        return {"kind": "chart", "name": text, "repo": repo.template().strip()}, []
    if text.startswith("oci://"):
        return {"kind": "chart", "name": posixpath.basename(text), "oci": text}, []
    if text.startswith(("http://", "https://")):
        named = re.match(r"(.+?)-(?:v?\d|\{\{)", posixpath.basename(text))
        if named is None:
            return "the chart name is not in its URL"
        return {"kind": "chart", "name": named.group(1), "url": text}, []
    alias, _, chart = text.partition("/")
    if alias not in w.out.repos or not chart:
        return f"the chart repository {alias} is not added by `helm repo add`"
    w.out.used_repos.add(alias)
    url, added = w.out.repos[alias]
    return {"kind": "chart", "name": chart, "repo": url}, [added]


def _chart_version(w: Walker, raw: str | None, fields: dict[str, Any]
                   ) -> tuple[dict[str, str], list[Origin]] | str:
    if raw is None:
        unversioned = "url" in fields or "repo" in fields  # the lock pins the highest
        return ({}, []) if unversioned else "no --version: pin the chart version in the spec"
    value = expand_word(raw, w.scope)
    if isinstance(value, ChartByApp):
        app = value.app_version.template()
        app = "{{ version }}" if app == "{{ version | strip_v }}" else app
        return {"app_version": app}, [value.origin] if value.origin else []
    if isinstance(value, Text):
        return {"version": value.template()}, []
    return f"the chart version: {value.why}" if isinstance(value, Unknown) else "the chart version"


def _listed_yaml(w: Walker, node: Simple, args: Sequence[str], origin: Origin) -> bool:
    """``yq '.image.registry + "/" + .image.tag' FILE > images/shim/list``: reads of FILE, and
    the image they make (False: not an image list of such an expression)."""
    from clusterbuild.importer.commands import write_listing
    from clusterbuild.importer.reads import yq_concat

    target, expression = stdout_target(node), w.text(args[0]) if len(args) == 2 else None
    listing = w.path(target or "")
    file = w.path(args[1]) if len(args) == 2 else Unknown("")
    if not (isinstance(listing, str) and listing.startswith("images/shim/") and isinstance(file, str)
            and isinstance(expression, Text) and expression.literal is not None):
        return False
    parts = yq_concat(expression.literal)
    if isinstance(parts, str):
        w.out.not_convertible(origin, f"derives an image list from YAML: {parts}")
        return True
    pieces: list[str | Expr] = []
    for part in parts:
        if isinstance(part, tuple):
            read = w.add_read(posixpath.basename(listing), {"file": file, "yq": part[0]}, origin, "")
            pieces.append(Expr(f"read.{read.name}"))
        else:
            pieces.append(part)
    write_listing(w, origin, str(target), Text.of(*pieces, "\n"), node)
    return True


def yq(w: Walker, node: Simple) -> None:
    origin = origin_of(node)
    words = node.words[1:]
    words = words[1:] if words[:1] in (("e",), ("eval",)) else words
    opts = parse_options(words, YQ)
    if "inplace" not in opts.flags and stdout_target(node):
        if not _listed_yaml(w, node, opts.args, origin):
            w.out.not_convertible(origin, "derives a file from YAML")
        return
    if "inplace" not in opts.flags:
        w.out.not_needed(origin, "prints YAML")
        return
    two = len(opts.args) == 2
    expression = w.text(opts.args[0]) if two else Unknown("expects an expression and one file")
    path = w.path(opts.args[1]) if two else Unknown("expects an expression and one file")
    chart = next((n for n, d in w.out.charts.items() if path == f"{d.where}/values.yaml"), None)
    if isinstance(expression, Unknown) or isinstance(path, Unknown):
        w.out.not_convertible(origin, next(v.why for v in (expression, path) if isinstance(v, Unknown)))
    elif expression.literal is None:
        w.out.not_convertible(origin, "the edit uses values known only at build time")
    elif chart is None:
        from clusterbuild.importer.sed import yq_edit

        yq_edit(w, opts.args[1], expression, origin)
    else:
        try:
            edits = parse_edits(expression.literal)
        except UnsupportedEdit as e:
            w.out.not_convertible(origin, str(e))
            return
        changes = [f"values.set {k}" for k in edits.set] + [f"values.delete {k}" for k in edits.delete]
        detail = ", ".join(changes)
        w.out.edit_values(chart, edits, replace(origin, detail=detail))
