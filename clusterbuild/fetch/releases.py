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
