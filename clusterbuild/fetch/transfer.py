"""One GET into a store writer: retries, resumption with ``Range``, and checks of what came back.

The body is stored as the server sent it (``Accept-Encoding: identity``, no content decoding),
so a ``.tar.gz`` stays the file it is and byte offsets for ``Range`` are offsets in the file.

Temporary failures — connection errors, timeouts, 408, 425, 429 and 5xx — are retried with
exponential backoff, or after the server's ``Retry-After`` (seconds or an HTTP date), each
delay capped at ``max_delay``. A body that breaks off is continued from the bytes already
written with ``Range`` (and ``If-Range`` when the server gave a strong ETag); a server that
answers anything but a matching 206 makes the download start over (``Restart``). Other
statuses are permanent: a one-line ``BuildError`` with the status.

A server that cannot be connected to at all (refused, no route, no such name, connect
timeout) is noted in ``Unreachable`` when a download gives up on it: the fetcher's other
downloads from that host then fail at once, or stop retrying, instead of each spending its
whole retry budget (400 downloads from a dead origin took 785 s; now the first give-up, ~15 s).
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from typing import TYPE_CHECKING

import httpx

from clusterbuild.cache.store import HashingWriter
from clusterbuild.errors import BuildError
from clusterbuild.places.transfers import metered, retry_after

if TYPE_CHECKING:
    from clusterbuild.fetch.http import FetchConfig

log = logging.getLogger(__name__)

TEMPORARY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
HTML_TYPES = ("text/html", "application/xhtml+xml")
HTML_STARTS = (b"<!doctype html", b"<html")
HEAD_BYTES = 512


class Restart(Exception):
    """The partial body cannot be continued: throw it away and download from the first byte."""


class Unreachable:
    """Hosts that a download gave up connecting to in this run, and why (thread-safe)."""

    def __init__(self) -> None:
        self._hosts: dict[str, str] = {}
        self._lock = threading.Lock()

    def note(self, host: str, problem: str) -> None:
        with self._lock:
            self._hosts.setdefault(host, problem)

    def problem(self, host: str) -> str | None:
        with self._lock:
            return self._hosts.get(host)

    def error(self, host: str, doing: str) -> BuildError | None:
        """The error for a download from ``host`` when it is known to be unreachable."""
        problem = self.problem(host)
        if problem is None:
            return None
        return BuildError(f"{doing}: {host} is unreachable (an earlier download gave up: {problem})",
                          hint="check the network, the proxy settings or the server; retry later")


class Attempts:
    """The retry budget of one download, shared by failed requests and restarts."""

    def __init__(self, config: FetchConfig, doing: str, host: str = "",
                 unreachable: Unreachable | None = None) -> None:
        self.config = config
        self.doing = doing
        self.failures = 0
        self.deadline = time.monotonic() + config.deadline
        self.host = host
        self.unreachable = unreachable
        self.connect_failed = ""  # the last failure was connecting (not a status or a broken body)

    def left(self) -> float:
        """Seconds left for the whole download; a BuildError when none are."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise BuildError(f"{self.doing}: no result within {self.config.deadline:g}s",
                             hint="the server is too slow or stalls; retry later, or raise --timeout")
        return left

    def timeout(self) -> httpx.Timeout:
        """The next request's timeouts: the configured ones, within the deadline."""
        return httpx.Timeout(min(self.config.timeout, self.left()))

    def failed(self, problem: str, retry_after: float | None = None) -> None:
        """Count a temporary failure and wait before the next try; raise when none is left."""
        self.failures += 1
        if self.unreachable is not None and self.connect_failed:
            known = self.unreachable.error(self.host, self.doing)  # another download gave up on it
            if known is not None:
                raise known
        if self.failures > self.config.retries:
            if self.unreachable is not None and self.connect_failed:
                self.unreachable.note(self.host, self.connect_failed)
            raise BuildError(f"{self.doing}: {problem} (gave up after {self.failures} attempts)",
                             hint="check the network, the proxy settings or the server; retry later")
        delay = retry_delay(self.config, self.failures - 1, retry_after)
        log.debug("%s: %s, retrying in %.2fs", self.doing, problem, delay)
        time.sleep(min(delay, self.left()))


def retry_delay(config: FetchConfig, attempt: int, retry_after: float | None = None) -> float:
    """Seconds before retry ``attempt`` (0-based): the server's wish, else jittered backoff; capped."""
    if retry_after is not None:
        return min(retry_after, config.max_delay)
    return min(config.max_delay, config.backoff * 2.0 ** attempt * random.uniform(0.8, 1.2))


class Body:
    """Where the body goes: the store writer, plus its first bytes kept to recognise HTML pages."""

    def __init__(self, out: HashingWriter) -> None:
        self.out = out
        self.head = b""

    @property
    def size(self) -> int:
        return self.out.size

    def write(self, chunk: bytes) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[:HEAD_BYTES - len(self.head)]
        self.out.write(chunk)


def is_html(content_type: str, head: bytes) -> bool:
    """Whether a response is a web page: by its Content-Type, or by how its body starts."""
    if content_type.split(";", 1)[0].strip().lower() in HTML_TYPES:
        return True
    return head.lstrip().lower().startswith(HTML_STARTS)


def receive(client: httpx.Client, url: str, body: Body, attempts: Attempts, allow_html: bool) -> str:
    """GET ``url`` into ``body`` until the whole file is there; its Content-Type."""
    validator = ""
    while True:
        headers = {"Accept-Encoding": "identity"}
        if body.size:
            headers["Range"] = f"bytes={body.size}-"
            if validator:
                headers["If-Range"] = validator
        try:
            with client.stream("GET", url, headers=headers, timeout=attempts.timeout()) as response:
                problem = _status_problem(response, body.size, attempts.doing)
                if problem is None:
                    content_type = str(response.headers.get("content-type", ""))
                    if not body.size and not allow_html and is_html(content_type, b""):
                        raise html_error(attempts.doing)
                    validator = validator or _strong_etag(response)
                    with metered(url, _total(response, body.size)) as advanced:
                        for chunk in response.iter_raw():
                            body.write(chunk)
                            advanced(body.size)
                            attempts.left()
                    return content_type
                wait = retry_after(response)
        except httpx.TransportError as e:
            problem = _describe(e, attempts.doing)
            connecting = isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError))
            attempts.connect_failed = problem if connecting else ""
            attempts.failed(problem)
            continue
        attempts.connect_failed = ""
        attempts.failed(problem, wait)


def html_error(doing: str) -> BuildError:
    return BuildError(f"{doing}: got an HTML page, not the file: is the URL a download link?",
                      hint="use the raw or release-asset URL, not the page that shows it")


def _status_problem(response: httpx.Response, offset: int, doing: str) -> str | None:
    """None when the response carries the bytes wanted; a temporary problem's text; else raise."""
    status = response.status_code
    if status == 200 and not offset:
        return None
    if offset and status == 206:
        if response.headers.get("content-range", "").startswith(f"bytes {offset}-"):
            return None
        raise Restart()
    if offset and status in (200, 416):
        raise Restart()  # Range ignored, or the file changed under us
    if status in TEMPORARY_STATUSES:
        return f"{status} {response.reason_phrase}"
    hint = "check the URL, the version and the arch name in it" if status in (404, 410) else \
        "check the URL and, for 401/403, whether the server needs credentials"
    raise BuildError(f"{doing}: {status} {response.reason_phrase}", hint=hint)


def _total(response: httpx.Response, offset: int) -> int | None:
    """The whole file's size, when the response says it (Content-Length past the offset)."""
    length = response.headers.get("content-length", "")
    return offset + int(length) if length.isdigit() else None


def _strong_etag(response: httpx.Response) -> str:
    etag = response.headers.get("etag", "")
    return etag if etag.startswith('"') else ""


def _describe(error: httpx.TransportError, doing: str) -> str:
    """A one-line account of a connection failure; TLS failures and bad schemes are raised, not retried."""
    if isinstance(error, httpx.UnsupportedProtocol):
        raise BuildError(f"{doing}: {error}", hint="use an http:// or https:// URL") from error
    seen: BaseException | None = error
    for _ in range(16):  # causes, bounded: a chain may loop
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            raise BuildError(f"{doing}: TLS: {seen}", hint="check the server's certificate and "
                             "SSL_CERT_FILE, or the proxy in HTTPS_PROXY") from error
        seen = seen.__cause__ or seen.__context__
    detail = " ".join(str(error).split())
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__
