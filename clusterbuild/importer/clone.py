"""``git clone`` of a GitHub repository: GitHub's source archive of the same tree.

    git clone https://github.com/O/R.git -b "$VERSION" --depth=1   # a tag (or a branch)
    cp -r R/ci/helm-chart charts/r                                   # an archive input, path */ci/helm-chart

The archive is https://github.com/O/R/archive/refs/tags/T.tar.gz (``refs/heads/B`` for a
branch name, ``HEAD`` without ``-b``). It holds the tree under one top directory (``R-1.2.3/``),
which stands for the clone's directory: what ``cp``/``mv`` take out of the clone are archive
inputs whose ``path`` starts with ``*``, the archive's single top directory. What the archive
lacks the clone has: ``.git`` (so a move of the whole clone is not converted) and submodules
(``--recursive`` is not converted), and paths the repository marks ``export-ignore`` in its
``.gitattributes``. A clone of the default branch (``HEAD``) moves with it: the lock pins the
archive's sha256, so a frozen build refuses a moved branch until ``lock --update``. Other git
commands are not converted.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from clusterbuild.importer.collect import TOP, Archive
from clusterbuild.importer.files import origin_of
from clusterbuild.importer.nodes import Simple
from clusterbuild.importer.options import parse_options, spec_of
from clusterbuild.importer.values import Origin, Text, Unknown

if TYPE_CHECKING:
    from clusterbuild.importer.walk import Walker

GIT_CLONE = spec_of("b=branch branch depth c=config o=origin origin", "q=quiet quiet single-branch no-tags "
                    "progress v=verbose verbose")
HARMLESS_FLAGS = {"quiet", "single-branch", "no-tags", "progress", "verbose"}
GITHUB = re.compile(r"https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?")


def git(w: Walker, node: Simple) -> None:
    origin = origin_of(node)
    if node.words[1:2] != ("clone",):
        sub = node.words[1] if len(node.words) > 1 else ""
        w.out.not_convertible(origin, f"runs git {sub}".rstrip())
        return
    found = _clone(w, node)
    if isinstance(found, str):
        w.out.not_convertible(origin, found)
        return
    url, into = found
    w.out.dirs.add(into)
    w.out.archives.append(Archive(url, into, [Origin(origin.line, origin.text, "GitHub's source archive")],
                                  top=TOP, clone=True))


def _clone(w: Walker, node: Simple) -> tuple[Text, str] | str:
    """The source archive of the clone and the directory it clones into; or why not."""
    opts = parse_options(node.words[2:], GIT_CLONE)
    odd = sorted(opts.flags - HARMLESS_FLAGS)
    if odd or "config" in opts.values or "origin" in opts.values:
        return f"git clone with {'--' + odd[0] if odd else 'a config or remote name'}: clone it by hand"
    if len(opts.args) not in (1, 2):
        return "git clone without a repository URL"
    url = w.text(opts.args[0])
    if isinstance(url, Unknown):
        return f"the repository URL: {url.why}"
    match = GITHUB.fullmatch(url.literal or "")
    if match is None:
        return f"clones {url.template()}, not a GitHub repository: its source archive is not known"
    owner, repo = match.groups()
    ref = _ref(w, opts.values.get("branch"))
    if isinstance(ref, Unknown):
        return f"the branch or tag: {ref.why}"
    into = w.path(opts.args[1]) if len(opts.args) == 2 else w.in_cwd(repo)
    if isinstance(into, Unknown):
        return f"the directory: {into.why}"
    if into == "." or into.startswith(("/", "../")):
        return f"clones into {into}, outside a directory of the app dir"
    return Text.of(f"https://github.com/{owner}/{repo}/archive/", *ref.parts, ".tar.gz"), into


def _ref(w: Walker, raw: str | None) -> Text | Unknown:
    """``refs/tags/T`` for ``-b`` naming a version (or a value known at build time: the
    catalogue's ``-b ${VERSION}``), ``refs/heads/B`` for another name, ``HEAD`` without ``-b``."""
    if raw is None:
        return Text.of("HEAD")
    ref = w.text(raw)
    if isinstance(ref, Unknown):
        return ref
    literal = ref.literal
    if literal is not None and not re.fullmatch(r"v?\d[\w.+-]*", literal):
        return Text.of("refs/heads/", literal)
    return Text.of("refs/tags/", *ref.parts)
