"""Real servers for registry tests, all on 127.0.0.1.

* ``RegistryProcess``: Debian's docker-registry (distribution 2.8), anonymous, htpasswd
  (bcrypt) or token auth, filesystem storage in a temp dir.
* ``TokenServer``: a small JWT token server (RS256, ``x5c`` header holding a self-signed
  certificate the registry trusts through ``auth.token.rootcertbundle``); key, certificate
  and signatures are made by the ``openssl`` command.
* ``FaultProxy``: an HTTP proxy in front of a registry that logs every exchange with the
  body bytes it sent and injects faults: an error status, a connection dropped mid-body,
  corrupted bytes, a replaced answer, or no byte-range support.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import bcrypt
import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}
TOKEN_SERVICE = "clusterbuild-test-registry"
TOKEN_ISSUER = "clusterbuild-test-issuer"
LEEWAY = 60  # seconds distribution adds to a token's exp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def htpasswd_line(user: str, password: str) -> str:
    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}"


def self_signed(root: Path, name: str) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made by openssl; the certificate is its own CA."""
    cert, key = root / f"{name}.crt", root / f"{name}.key"
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-days", "2"], check=True, capture_output=True)
    return cert, key


class RegistryProcess:
    """docker-registry serving ``root/data``; ``auth`` is the YAML of its ``auth:`` section;
    with ``tls`` (certificate, key) it serves HTTPS."""

    def __init__(self, root: Path, auth: str = "", tls: tuple[Path, Path] | None = None) -> None:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RuntimeError("docker-registry is not installed: run scripts/install.sh")
        root.mkdir(parents=True, exist_ok=True)
        self.address = f"127.0.0.1:{free_port()}"
        config = root / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.address}\n"
            + (f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n" if tls else "") + auth)
        self.url = f"{'https' if tls else 'http'}://{self.address}"
        self._verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(tls[0])) if tls else True
        self.process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/v2/", timeout=1, verify=self._verify).status_code in (200, 401):
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"docker-registry did not start on {self.address}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def htpasswd_auth(root: Path, users: dict[str, str]) -> str:
    path = root / "htpasswd"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(htpasswd_line(u, p) + "\n" for u, p in users.items()))
    return f"auth:\n  htpasswd:\n    realm: clusterbuild-test\n    path: {path}\n"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRequest:
    account: str
    scopes: tuple[str, ...]
    method: str


@dataclass
class TokenServer:
    """Grants every requested scope to known users; anonymous requests get 401."""

    root: Path
    users: dict[str, str]
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> user
    lifetime: float = 300.0  # seconds the registry accepts a token
    advertised: int = 300  # expires_in told to the client
    requests: list[TokenRequest] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = self.root / "token.key", self.root / "token.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.cert), "-subj", "/CN=clusterbuild-test-token", "-days", "2"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.server = _serve(_TokenHandler, self)
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def registry_auth(self) -> str:
        return (f"auth:\n  token:\n    realm: {self.realm}\n    service: {TOKEN_SERVICE}\n"
                f"    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {self.cert}\n")

    def sign(self, account: str, scopes: tuple[str, ...]) -> str:
        now = int(time.time())
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": TOKEN_ISSUER, "sub": account, "aud": TOKEN_SERVICE, "iat": now, "nbf": now - 5,
                  "exp": int(now + self.lifetime - LEEWAY), "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signing_input.encode(), check=True, capture_output=True).stdout
        return f"{signing_input}.{_b64url(signature)}"

    def account(self, authorization: str, form: dict[str, list[str]]) -> str | None:
        if form.get("grant_type") == ["refresh_token"]:
            return self.refresh_tokens.get(form.get("refresh_token", [""])[0])
        if not authorization.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        return user if self.users.get(user) == password else None

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _TokenHandler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(parse_qs(urlsplit(self.path).query), "GET")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(parse_qs(self.rfile.read(length).decode()), "POST")

    def _answer(self, form: dict[str, list[str]], method: str) -> None:
        tokens: TokenServer = self.server.owner
        scopes = tuple(s for value in form.get("scope", []) for s in value.split(" ") if s)
        account = tokens.account(self.headers.get("Authorization", ""), form)
        tokens.requests.append(TokenRequest(account or "", scopes, method))
        if account is None:
            _reply(self, 401, b'{"details":"unauthorized"}', {"Content-Type": "application/json"})
            return
        token = tokens.sign(account, scopes)
        tokens.issued.append(token)
        body = {"token": token, "access_token": token, "expires_in": tokens.advertised}
        _reply(self, 200, json.dumps(body).encode(), {"Content-Type": "application/json"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Any  # the TokenServer or FaultProxy the handlers serve


def _serve(handler: type[BaseHTTPRequestHandler], owner: object) -> _Server:
    server = _Server(("127.0.0.1", 0), handler)
    server.owner = owner
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


@dataclass
class Fault:
    """``action``: "status" (answer ``status`` with ``headers``, the registry not asked), "slow"
    (answer after ``after`` milliseconds), "drop"
    (close the connection after ``after`` body bytes), "corrupt" (flip a byte of the body),
    "corrupt request" (flip the first byte of the request's body on its way to the registry),
    "replace" (answer ``status``/``headers``/``body`` in place of the registry's answer)."""

    path: str  # a regular expression searched in the request path
    action: str
    method: str = "GET"
    times: int = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
    after: int = 0


@dataclass
class Exchange:
    method: str
    path: str
    query: str
    status: int
    sent: int  # body bytes sent to the client
    range: str = ""
    fault: str = ""


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: list[Fault] = []
        self.log: list[Exchange] = []
        self.ranges = True  # False: Range requests are ignored and Accept-Ranges hidden
        self._lock = threading.Lock()
        self.server = _serve(_ProxyHandler, self)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and re.search(fault.path, path):
                    fault.times -= 1
                    return fault
        return None

    def record(self, exchange: Exchange) -> None:
        with self._lock:
            self.log.append(exchange)

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.log.clear()
            self.ranges = True

    def sent_for(self, fragment: str) -> int:
        """Body bytes sent for requests whose path contains ``fragment``."""
        with self._lock:
            return sum(e.sent for e in self.log if fragment in e.path)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _read_request_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            chunk = handler.rfile.read(size + 2)
            if size == 0:
                return bytes(body)
            body += chunk[:-2]
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    @property
    def proxy(self) -> FaultProxy:
        owner: FaultProxy = self.server.owner
        return owner

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        body = _read_request_body(self)
        parts = urlsplit(self.path)
        fault = self.proxy.take_fault(self.command, parts.path)
        exchange = Exchange(self.command, parts.path, parts.query, 0, 0,
                            self.headers.get("Range", ""), fault.action if fault else "")
        self.proxy.record(exchange)  # filled in before the client can see the answer
        if fault is not None and fault.action == "status":
            exchange.status = fault.status
            exchange.sent = 0 if self.command == "HEAD" else len(fault.body)
            headers = {"Content-Type": "application/json", **fault.headers}
            _reply(self, fault.status, fault.body, headers)
        else:
            self._forward(body, fault, exchange)

    def _forward(self, body: bytes, fault: Fault | None, exchange: Exchange) -> None:
        host, port = self.proxy.upstream.split(":")
        upstream = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if not self.proxy.ranges:
            headers.pop("Range", None)
        headers["Content-Length"] = str(len(body))
        if fault is not None and fault.action == "corrupt request" and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        try:
            self._relay(answer, fault, exchange)
        finally:
            upstream.close()

    def _relay(self, answer: http.client.HTTPResponse, fault: Fault | None, exchange: Exchange) -> None:
        if fault is not None and fault.action == "replace":
            answer.read()
            exchange.status, exchange.sent = fault.status, len(fault.body)
            _reply(self, fault.status, fault.body, fault.headers)
            return
        data = b"" if self.command == "HEAD" else answer.read()
        if fault is not None and fault.action == "slow":
            time.sleep(fault.after / 1000)  # ``after`` milliseconds before answering
        exchange.status = answer.status
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower == "content-length" or (lower == "accept-ranges"
                                                                    and not self.proxy.ranges):
                continue
            self.send_header(name, value)
        length = answer.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
        self.send_header("Content-Length", length or "0")
        self.end_headers()
        if fault is not None and fault.action == "corrupt" and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if fault is not None and fault.action == "drop":
            exchange.sent = min(len(data), fault.after)
            self.wfile.write(data[: fault.after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        exchange.sent = len(data)
        self.wfile.write(data)

