"""Registry authentication: anonymous, Basic, and the Bearer token flow.

The first request to a host goes out anonymous; a 401 teaches the host's challenge
(``WWW-Authenticate: Bearer realm=…,service=…``) and later requests carry credentials up
front. Tokens are cached per (host, scopes) until ``expires_in`` runs out; a 401 on a
cached token drops it so the caller re-authenticates once.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from clusterbuild.places.registry.config import Endpoint, RegistryConfig
from clusterbuild.places.registry.credentials import Credentials, Login
from clusterbuild.places.registry.errors import RegistryError, error_from_response
from clusterbuild.places.registry.retry import send_retrying

Scopes = tuple[str, ...]
_PARAM = re.compile(r'([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))')
CLIENT_ID = "clusterbuild"


def pull_scope(repository: str) -> Scopes:
    return (f"repository:{repository}:pull",)


def push_scope(repository: str, mount_from: str = "") -> Scopes:
    own = f"repository:{repository}:pull,push"
    return (own, f"repository:{mount_from}:pull") if mount_from else (own,)


def basic_header(login: Login) -> str:
    return "Basic " + base64.b64encode(f"{login.username}:{login.password}".encode()).decode()


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic" or "bearer"
    params: Mapping[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of a ``WWW-Authenticate`` header, or None if there is none."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), {k: re.sub(r"\\(.)", r"\1", v) for k, v in params.items()})


@dataclass(frozen=True)
class _Token:
    value: str
    expires: float  # time.monotonic()


class Authenticator:
    def __init__(self, client: httpx.Client, credentials: Credentials | None, config: RegistryConfig) -> None:
        self._client = client
        self._credentials = credentials
        self._config = config
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, Scopes], _Token] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Authenticator(hosts={sorted(self._challenges)})"

    def _login(self, endpoint: Endpoint) -> Login | None:
        return self._credentials.for_registry(endpoint.registry) if self._credentials else None

    def headers(self, endpoint: Endpoint, scopes: Scopes) -> dict[str, str]:
        """Authorization for a request to ``endpoint`` needing ``scopes`` (may fetch a token)."""
        challenge = self._challenges.get(endpoint.host)
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            login = self._login(endpoint)
            if login is None or not login.username:
                return {}
            return {"Authorization": basic_header(login)}
        if challenge.scheme == "bearer":
            return {"Authorization": f"Bearer {self._token(endpoint, challenge, scopes)}"}
        return {}

    def unauthorized(self, endpoint: Endpoint, response: httpx.Response, scopes: Scopes) -> bool:
        """Learn from a 401; True when one more try with (new) credentials can help."""
        challenge = parse_challenge(response.headers.get("www-authenticate", ""))
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            return False
        sent = response.request.headers.get("authorization", "")
        with self._lock:
            self._challenges[endpoint.host] = challenge
            token = self._tokens.get((endpoint.host, scopes))
            if token is not None and sent == f"Bearer {token.value}":  # refused (expired, revoked): drop it
                del self._tokens[(endpoint.host, scopes)]
        return challenge.scheme == "bearer" or self._login(endpoint) is not None

    def _token(self, endpoint: Endpoint, challenge: Challenge, scopes: Scopes) -> str:
        key = (endpoint.host, scopes)
        with self._lock:
            token = self._tokens.get(key)
            if token is not None and time.monotonic() < token.expires:
                return token.value
            token = self._fetch_token(endpoint, challenge, scopes)
            self._tokens[key] = token
            return token.value

    def _fetch_token(self, endpoint: Endpoint, challenge: Challenge, scopes: Scopes) -> _Token:
        realm = challenge.params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise RegistryError(f"authenticating to {endpoint}: the token realm {realm!r} is not a URL",
                                code="UNAUTHORIZED")
        service = challenge.params.get("service", "")
        doing = f"getting a token for {' '.join(scopes)} from {realm}"
        response = send_retrying(self._client, lambda: self._token_request(endpoint, realm, service, scopes),
                                 self._config, doing)
        if response.status_code != 200:
            raise error_from_response(response, doing)
        try:
            body = response.json()
            value = str(body.get("token") or body["access_token"])
            lifetime = float(body.get("expires_in") or 60)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RegistryError(f"{doing}: the answer is not a token JSON object", code="UNAUTHORIZED") \
                from None
        return _Token(value, time.monotonic() + max(lifetime * 0.9, lifetime - 10))

    def _token_request(self, endpoint: Endpoint, realm: str, service: str, scopes: Scopes) -> httpx.Request:
        login = self._login(endpoint)
        if login is not None and login.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": login.identity_token,
                    "service": service, "scope": " ".join(scopes), "client_id": CLIENT_ID}
            return self._client.build_request("POST", realm, data=form)
        params = httpx.QueryParams({"service": service} if service else {})
        for scope in scopes:
            params = params.add("scope", scope)
        headers = {}
        if login is not None and login.username:
            params = params.add("account", login.username)
            headers["Authorization"] = basic_header(login)
        return self._client.build_request("GET", realm, params=params, headers=headers)
