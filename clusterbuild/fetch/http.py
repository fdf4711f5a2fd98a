"""Downloading files over HTTP(S) into the content store, verified, once per content digest.

    with Fetcher(FetchConfig(mirrors={"https://github.com/": "https://mirror.example/gh/"})) as fetcher:
        fetched = fetcher.fetch(url, store, expect=Digest.parse("sha256:…"), what="helm for arm64")

A body streams straight into a temp file of the store, hashed on the way, and becomes a blob
only when complete, verified against ``expect`` when given, and not an HTML page in place of
the file; so nothing unverified ever enters the store. A digest already in the store is not
downloaded again. Mirrors rewrite URL prefixes for every fetch: digests, not URLs, identify
what was fetched. Proxies come from the standard environment variables (``HTTPS_PROXY``,
``NO_PROXY``, …); redirects are followed. Retries and resumption: see ``transfer``.

Errors: every failure is a one-line ``BuildError`` naming what was fetched and the URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType, TracebackType
from typing import TypeVar

import httpx

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.fetch.transfer import Attempts, Body, Restart, Unreachable, html_error, is_html, receive
from clusterbuild.oci.digest import Digest
from clusterbuild.places.transfers import run_parallel

T = TypeVar("T")


@dataclass(frozen=True)
class FetchConfig:
    mirrors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # URL prefix -> prefix
    retries: int = 5  # retries after the first attempt, for temporary failures and restarts
    backoff: float = 0.5  # first retry delay in seconds; doubles per attempt
    max_delay: float = 30.0  # cap on backoff and on a server's Retry-After
    timeout: float = 60.0  # seconds for connecting and for each read
    deadline: float = 900.0  # seconds one download may take in all, retries included
    max_redirects: int = 10
    jobs: int = 4  # parallel downloads in fetch_many

    def __post_init__(self) -> None:
        if self.jobs < 1 or self.retries < 0 or self.timeout <= 0:
            raise ValueError("FetchConfig: jobs must be >= 1, retries >= 0, timeout > 0")

    def rewrite(self, url: str) -> str:
        """``url`` with its longest matching mirror prefix replaced (unchanged when none matches)."""
        matching = [prefix for prefix in self.mirrors if url.startswith(prefix)]
        if not matching:
            return url
        prefix = max(matching, key=len)
        return self.mirrors[prefix] + url[len(prefix):]


@dataclass(frozen=True)
class Fetched:
    digest: Digest
    size: int
    url_used: str  # after mirror rewriting, before redirects
    content_type: str = ""  # empty when the blob was already in the store


class Fetcher:
    """Downloads into a ``BlobStore``; one connection pool, safe to share between threads."""

    def __init__(self, config: FetchConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        limits = httpx.Limits(max_connections=max(10, 2 * config.jobs))
        self._client = httpx.Client(transport=transport, timeout=config.timeout, follow_redirects=True,
                                    max_redirects=config.max_redirects,
                                    trust_env=True, limits=limits, headers={"User-Agent": "clusterbuild"})
        self.unreachable = Unreachable()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def fetch(self, url: str, store: BlobStore, expect: Digest | None = None, what: str = "",
              allow_html: bool = False) -> Fetched:
        """Store the file at ``url`` (through mirrors); skipped when ``expect`` is already stored.

        A body that does not hash to ``expect``, or an HTML page (unless ``allow_html``), is an
        error and leaves the store as it was."""
        used = self.config.rewrite(url)
        if expect is not None and store.has(expect):
            return Fetched(expect, store.size(expect), used)
        doing = f"fetching {what} from {used}" if what else f"fetching {used}"
        host = _host(used)
        known = self.unreachable.error(host, doing)
        if known is not None:
            raise known
        attempts = Attempts(self.config, doing, host, self.unreachable)
        while True:
            try:
                return self._download(used, store, expect, attempts, allow_html)
            except Restart:
                attempts.failed("the server did not continue the broken download; starting over")
            except httpx.TooManyRedirects:
                raise BuildError(f"{doing}: more than {self.config.max_redirects} redirects (a redirect "
                                 "loop)", hint="check the URL and the mirrors of apps.yaml") from None
            except (httpx.HTTPError, httpx.InvalidURL) as e:  # bad URL: retrying will not help
                detail = " ".join(str(e).split()) or type(e).__name__
                raise BuildError(f"{doing}: {detail}", hint="check the URL") from e

    def _download(self, url: str, store: BlobStore, expect: Digest | None, attempts: Attempts,
                  allow_html: bool) -> Fetched:
        with store.writer() as out:
            body = Body(out)
            content_type = receive(self._client, url, body, attempts, allow_html)
            if not allow_html and is_html(content_type, body.head):
                raise html_error(attempts.doing)
            if expect is not None and out.digest != expect:
                raise BuildError(f"{attempts.doing}: checksum mismatch: expected {expect}, got {out.digest} "
                                 f"({out.size} bytes)", hint="the file changed upstream or the checksum "
                                 "in the spec or lock is wrong; nothing was stored")
        return Fetched(out.digest, out.size, url, content_type)

    def fetch_many(self, requests: Sequence[tuple[str, Digest | None, str]],
                   store: BlobStore) -> list[Fetched]:
        """Fetch ``(url, expect, what)`` requests, ``config.jobs`` at a time; results in request order.

        Requests for the same digest, or without a digest for the same URL (after mirrors), are
        fetched once and share one result. The first failure stops downloads not yet started."""
        keys = [_identity(self.config.rewrite(url), expect) for url, expect, _ in requests]
        first: dict[str, int] = {}
        for position, key in enumerate(keys):
            first.setdefault(key, position)
        tasks = [partial(self.fetch, requests[i][0], store, requests[i][1], requests[i][2])
                 for i in first.values()]
        results = dict(zip(first, run_parallel(self.config.jobs, tasks), strict=True))
        return [results[key] for key in keys]


def _host(url: str) -> str:
    try:
        return httpx.URL(url).netloc.decode() or url
    except (httpx.InvalidURL, UnicodeDecodeError):
        return url


def _identity(url: str, expect: Digest | None) -> str:
    return str(expect) if expect is not None else f"url {url}"
