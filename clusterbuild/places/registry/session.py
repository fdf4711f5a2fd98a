"""One HTTP session to registries: retries, authentication, and errors that say what was done.

``request`` returns a response whose status is one of ``ok`` or raises ``RegistryError``;
a 401 re-authenticates once (new challenge, expired token) before it counts as an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeAlias

import httpx

from clusterbuild.places.registry.auth import Authenticator, Scopes
from clusterbuild.places.registry.config import Endpoint, RegistryConfig
from clusterbuild.places.registry.credentials import Credentials
from clusterbuild.places.registry.errors import error_from_response
from clusterbuild.places.registry.retry import send_retrying

Body: TypeAlias = bytes | Callable[[], Iterator[bytes]] | None
Params: TypeAlias = Mapping[str, str] | None


class RegistrySession:
    def __init__(self, config: RegistryConfig, credentials: Credentials | None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        # the remote step cache has IO_JOBS requests in flight: a connection each
        limits = httpx.Limits(max_connections=max(16, 2 * config.jobs),
                              max_keepalive_connections=max(16, 2 * config.jobs))
        self.client = httpx.Client(transport=transport, timeout=config.timeout, follow_redirects=True,
                                   max_redirects=config.max_redirects,
                                   limits=limits, verify=config.ssl_context() if transport is None else True,
                                   headers={"User-Agent": "clusterbuild"})
        self.auth = Authenticator(self.client, credentials, config)

    def __repr__(self) -> str:
        return f"RegistrySession({self.auth!r})"

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, endpoint: Endpoint, url: str, scopes: Scopes, doing: str, *,
                params: Params = None, headers: Mapping[str, str] | None = None, content: Body = None,
                stream: bool = False, ok: tuple[int, ...] = (200,),
                attempts: int | None = None, deadline: float | None = None) -> httpx.Response:
        """Send ``method url`` (a path under ``endpoint`` or an absolute URL) and check the status."""
        full_url = url if url.startswith(("http://", "https://")) else endpoint.url(url)

        def build() -> httpx.Request:
            merged = {**(headers or {}), **self.auth.headers(endpoint, scopes)}
            body = content() if callable(content) else content
            return self.client.build_request(method, full_url, params=params, headers=merged, content=body)

        reauthenticated = False
        while True:
            response = send_retrying(self.client, build, self.config, doing, stream=stream, attempts=attempts,
                                     deadline=deadline)
            if (response.status_code == 401 and not reauthenticated
                    and self.auth.unauthorized(endpoint, response, scopes)):
                response.close()
                reauthenticated = True
                continue
            if response.status_code in ok:
                return response
            if stream:
                response.read()
            response.close()
            raise error_from_response(response, doing)
