"""The latest release of a GitHub repository, read from GitHub's REST API.

    tag = latest_release_tag("moby/buildkit", fetcher, store)   # "v0.12.5"

``GET https://api.github.com/repos/{owner}/{repo}/releases/latest`` (through the download
mirrors, like every URL) answers the newest release that is neither a draft nor a
prerelease; its ``tag_name`` is the value.
"""

from __future__ import annotations

import json
import re

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.fetch.http import Fetcher

MAX_BYTES = 4 << 20  # a release's JSON (with its asset list) is a few hundred KiB at most
_TAG = re.compile(r"^[^\s\x00-\x1f]{1,255}$")


def api_url(repo: str) -> str:
    return f"https://api.github.com/repos/{repo}/releases/latest"


def latest_release_tag(repo: str, fetcher: Fetcher, store: BlobStore, what: str = "") -> str:
    url = api_url(repo)
    fetched = fetcher.fetch(url, store, what=what or f"the latest release of {repo}")
    hint = f"check that github: {repo} names a repository that publishes releases"
    if fetched.size > MAX_BYTES:
        raise BuildError(f"{url}: the answer is larger than {MAX_BYTES} bytes, not a release", hint=hint)
    try:
        tag = json.loads(store.read_bytes(fetched.digest))["tag_name"]
    except (ValueError, KeyError, TypeError):
        raise BuildError(f"{url}: not a GitHub release (no tag_name in the answer)", hint=hint) from None
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise BuildError(f"{url}: the release's tag_name {tag!r} is not a tag", hint=hint)
    return tag


def value_of_text(text: str, yq: str | None, run: str | None, what: str, source: str) -> str:
    """The value a ``url`` release reads out of ``text`` (the file ``source``): ``yq`` or the
    filters of ``run``, one non-blank line (a version or a tag)."""
    import yaml

    from clusterbuild.fetch.textread import UnsupportedRead, parse_run, read_yq

    try:
        value = read_yq(text, yq) if yq is not None else parse_run(str(run)).apply(text)
    except (UnsupportedRead, yaml.YAMLError) as exc:
        raise BuildError(f"{what}: reading {source}: {exc}", hint="fix the yq path or the filters") from None
    value = value.strip()
    if not _TAG.match(value) or value == "null":
        shown = repr(value[:80]) if value and value != "null" else "nothing"
        raise BuildError(f"{what}: reading {source} gave {shown}, not one word (a version or a tag)",
                         hint="check the release's file and its yq path or filters against the download")
    return value
