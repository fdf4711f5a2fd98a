"""A small file server on 127.0.0.1 for fetch tests: byte ranges, redirects, and scripted faults.

    with FileServer() as server:
        url = server.serve("/tool", data, script=[status(500), drop(after=1000)])
        ...                                   # 1st GET: 500, 2nd: body cut after 1000 bytes, then fine
        assert server.seen("/tool")[-1].headers["range"] == "bytes=1000-"

Each path answers from its ``script`` first, one fault per request, then normally: the body
with ``Content-Length`` and, unless ``ranges=False``, ``Accept-Ranges: bytes`` and 206 answers
to ``Range: bytes=N-``. Every request is recorded (``seen``) with its request target, so a
test can tell that a proxy or mirror was used and which requests carried ``Range``.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

_RANGE = re.compile(r"^bytes=(\d+)-$")
HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>Not the file</title></head><body>Sign in</body></html>\n"


@dataclass(frozen=True)
class Fault:
    """What one request gets instead of the normal answer."""

    status: int = 0  # answer this status with ``body`` and ``headers`` instead of the file
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    drop_after: int | None = None  # promise the whole body, send this many bytes, close the connection
    content: bytes | None = None  # serve these bytes (with 200) instead of the file


def status(code: int, body: bytes = b"", **headers: str) -> Fault:
    return Fault(status=code, body=body, headers=tuple((k.replace("_", "-"), v) for k, v in headers.items()))


def too_many(retry_after: str) -> Fault:
    return status(429, b"slow down", Retry_After=retry_after)


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


def drop(after: int) -> Fault:
    return Fault(drop_after=after)


def wrong_bytes(content: bytes) -> Fault:
    return Fault(content=content)


def html_error_page() -> Fault:
    return status(200, HTML_PAGE, Content_Type="text/html; charset=utf-8")


@dataclass
class Route:
    body: bytes
    content_type: str = "application/octet-stream"
    ranges: bool = True
    script: list[Fault] = field(default_factory=list)
    redirect: str = ""  # answer every request with 302 to this location
    delay: float = 0.0  # seconds to wait before answering
    etag: str = ""


@dataclass(frozen=True)
class Seen:
    target: str  # the request target as sent: a path, or an absolute URL when sent to a proxy
    headers: dict[str, str]  # lower-case names


class FileServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 serving ``Route`` values by path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, Route] = {}
        self._seen: dict[str, list[Seen]] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="file-server",
                                        daemon=True)
        self._thread.start()

    def serve(self, path: str, body: bytes, *, script: Sequence[Fault] = (), **options: Any) -> str:
        """Serve ``body`` at ``path`` (faults of ``script`` first); the full URL."""
        with self._lock:
            self._routes[path] = Route(body, script=list(script), **options)
        return self.url + path

    def redirect(self, path: str, location: str) -> str:
        return self.serve(path, b"", redirect=location)

    def seen(self, path: str) -> list[Seen]:
        with self._lock:
            return list(self._seen.get(path, []))

    def answer(self, target: str, headers: dict[str, str]) -> tuple[Route | None, Fault | None]:
        """Record a request; its route and the fault it gets, if any."""
        path = urlsplit(target).path
        with self._lock:
            self._seen.setdefault(path, []).append(Seen(target, headers))
            route = self._routes.get(path)
            fault = route.script.pop(0) if route is not None and route.script else None
        return route, fault

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FileServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FileServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up (timeouts, dropped bodies) are part of the tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        route, fault = self.server.owner.answer(self.path, headers)
        if route is not None and route.delay:
            time.sleep(route.delay)
        if route is None:
            self._send(404, b"404 page not found\n", [("Content-Type", "text/plain")])
        elif fault is not None and fault.status:
            self._send(fault.status, fault.body, list(fault.headers))
        elif route.redirect:
            self._send(302, b"", [("Location", route.redirect)])
        else:
            self._send_file(route, fault, headers.get("range", ""))

    def _send_file(self, route: Route, fault: Fault | None, range_header: str) -> None:
        body = fault.content if fault is not None and fault.content is not None else route.body
        extra = [("Content-Type", route.content_type)]
        extra += [("Accept-Ranges", "bytes")] if route.ranges else []
        extra += [("ETag", route.etag)] if route.etag else []
        wanted = _RANGE.match(range_header) if route.ranges else None
        code, start = 200, 0
        if wanted is not None:
            start = int(wanted.group(1))
            if start >= len(body):
                self._send(416, b"", [("Content-Range", f"bytes */{len(body)}")])
                return
            code = 206
            extra.append(("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}"))
        cut = fault.drop_after if fault is not None else None
        self._send(code, body[start:], extra, cut)

    def _send(self, code: int, body: bytes, headers: list[tuple[str, str]], cut: int | None = None) -> None:
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if cut is None else body[:cut])
        if cut is not None:
            self.close_connection = True
