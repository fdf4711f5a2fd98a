"""The catalogue's ways of asking GitHub for a repository's latest release, read as a
``releases`` value of the spec (pinned by ``clusterbuild lock``, ``{{ releases.NAME }}``):

* ``curl -s https://api.github.com/repos/O/R/releases/latest | jq -r .tag_name`` (or
  ``| grep '"tag_name"' | sed -E 's/.*"([^"]+)".*/\\1/'``): the tag;
* ``... | grep tarball_url | awk -F\\" '{print $(NF-1)}' | awk -F/ '{print $NF}'`` (the tag),
  then ``| cut -dv -f2``: ``{{ releases.NAME | cut('v', 2) }}``;
* ``curl -s -w %{redirect_url} https://github.com/O/R/releases/latest``: where github.com
  redirects, ``https://github.com/O/R/releases/tag/<tag>``.

``until curl ...; do sleep 3; done | ...`` (retrying) reads as the curl. Anything else,
e.g. a release list sorted by tag, is not this idiom: ``reads.download_read`` reads it by its
own filters (a ``{url, run}`` release).
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping, Sequence

from clusterbuild.importer.nodes import Loop, Node, Simple
from clusterbuild.importer.values import Expr, Text, Value

_API = re.compile(r"^https://api\.github\.com/repos/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/releases/latest/?$")
_PAGE = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/releases/latest/?$")
_TAG_TAILS = {  # the commands after the request, their words joined, quotes removed -> filter
    "jq -r .tag_name": "",
    "jq .tag_name -r": "",
    'grep "tag_name" | sed -E s/.*"([^"]+)".*/\\1/': "",
    'grep tag_name | sed -E s/.*"([^"]+)".*/\\1/': "",
    'grep tarball_url | awk -F" {print $(NF-1)} | awk -F/ {print $NF}': "",
    'grep tarball_url | awk -F" {print $(NF-1)} | awk -F/ {print $NF} | cut -dv -f2': " | cut('v', 2)",
    'grep tarball_url | awk -F" {print $(NF-1)} | awk -F/ {print $NF} | cut -d v -f2': " | cut('v', 2)",
}
_QUIET = ("-s", "--silent", "-L", "--location", "-sL", "-Ls", "-fsSL", "-sSL", "-fsL", "-q", "-qO-", "-O-")


def request(node: Node) -> Simple | None:
    """The command making the request: ``node``, or the condition of ``until CMD; do sleep N; done``."""
    if isinstance(node, Simple):
        return node
    if isinstance(node, Loop) and node.header.startswith("until ") and all(
            isinstance(b, Simple) and b.words[:1] == ("sleep",) for b in node.body):
        from clusterbuild.importer.syntax import parse_script

        nodes = parse_script(node.header[len("until "):])
        return nodes[0] if len(nodes) == 1 and isinstance(nodes[0], Simple) else None
    return None


def release_value(first: Simple, rest: Sequence[Simple], words: Sequence[Sequence[str] | None],
                  releases: MutableMapping[str, dict[str, str]] | None) -> Value | None:
    """The value of ``first | rest`` (``words``: each command's words expanded to literals, None
    where one is not literal) when it reads a latest release; the release is named in ``releases``."""
    if releases is None or first.words[0] not in ("curl", "wget") or any(w is None for w in words):
        return None
    request_words, tail = list(words[0] or ()), " | ".join(" ".join(w or ()) for w in words[1:])
    urls = [w for w in request_words[1:] if w.startswith("https://")]
    if len(urls) != 1:
        return None
    options = [w for w in request_words[1:] if w != urls[0]]
    api, page = _API.match(urls[0]), _PAGE.match(urls[0])
    redirect = [o for o in options if o not in _QUIET]
    if api and tail in _TAG_TAILS and not redirect:
        name = _name(api.group(1), releases)
        return Text((Expr(f"releases.{name}{_TAG_TAILS[tail]}"),)) if name else None
    if page and not tail and first.words[0] == "curl" and redirect in (["-w", "%{redirect_url}"],
                                                                        ["--write-out", "%{redirect_url}"]):
        repo, name = page.group(1), _name(page.group(1), releases)
        return Text((f"https://github.com/{repo}/releases/tag/", Expr(f"releases.{name}"))) if name else None
    return None


def _name(repo: str, releases: MutableMapping[str, dict[str, str]]) -> str | None:
    """The release's name in the spec: the repository's name as an identifier (with its owner
    when another repository has that name)."""
    for candidate in (repo.split("/")[1], repo.replace("/", "_")):
        name = re.sub(r"\W", "_", candidate)
        name = f"_{name}" if name[0].isdigit() else name
        if releases.setdefault(name, {"github": repo}) == {"github": repo}:
            return name
    return None
