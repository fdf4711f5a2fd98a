"""Errors of the registry client: what was being done, the registry's error code, and whether to retry.

    BuildError
    └── RegistryError                 .code (MANIFEST_UNKNOWN, UNAUTHORIZED, ...), .status, .temporary
        └── UnsupportedManifestError  also an InputError: schema 1 or an unknown media type
    InputError
    └── CredentialsError              a docker config or credential helper could not be read

Messages never hold credentials or tokens: they are built from URLs, status codes and the
registry's own error text only.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

import httpx

from clusterbuild.errors import BuildError, InputError

TEMPORARY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class RegistryError(BuildError):
    def __init__(self, message: str, *, code: str = "", status: int | None = None,
                 temporary: bool = False, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.status = status
        self._temporary = temporary

    @property
    def temporary(self) -> bool:
        """True when the same request may succeed later (connection errors, 5xx, 429)."""
        return self._temporary

    def within(self, doing: str) -> RegistryError:
        """The same error, its message prefixed by what the caller was doing."""
        error = type(self)(f"{doing}: {self.message}", code=self.code, status=self.status,
                           temporary=self._temporary, hint=self.hint)
        error.__cause__ = self.__cause__
        return error


class UnsupportedManifestError(RegistryError, InputError):
    exit_code = InputError.exit_code


class CredentialsError(InputError):
    pass


def _registry_errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = json.loads(response.content[:65536])
    except (ValueError, UnicodeDecodeError):
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def error_from_response(response: httpx.Response, doing: str) -> RegistryError:
    """``doing: 404 BLOB_UNKNOWN blob unknown to registry`` from a failed response (body read)."""
    errors = _registry_errors(response)
    code = str(errors[0].get("code", "")) if errors else ""
    text = "; ".join(str(e.get("message", "")) for e in errors if e.get("message"))
    if not code and response.status_code == 401:
        code = "UNAUTHORIZED"
    if not code and response.status_code == 429:
        code = "TOOMANYREQUESTS"
    parts = [str(response.status_code), code, text or response.reason_phrase]
    message = f"{doing}: {' '.join(p for p in parts if p)}"
    hint = ""
    if response.status_code in (401, 403):
        host = response.request.url.netloc.decode()
        hint = (f"check the credentials for {host} (clusterbuild login, docker login, "
                "or a credential helper in the docker config)")
    return RegistryError(message, code=code, status=response.status_code,
                         temporary=response.status_code in TEMPORARY_STATUSES, hint=hint)


def _tls_failure(error: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def error_from_transport(error: httpx.TransportError, doing: str) -> RegistryError:
    """A connection error: temporary, unless TLS failed (retrying will not fix a certificate)."""
    kind = type(error).__name__
    detail = str(error) or kind
    tls = _tls_failure(error)
    if tls is not None:
        try:
            host = error.request.url.netloc.decode()
        except RuntimeError:  # raised outside a request
            host = "the registry"
        return RegistryError(f"{doing}: TLS: {tls}", code="TLS",
                             hint=f"give the CA of {host} as ca_file, or list it as insecure for plain HTTP")
    return RegistryError(f"{doing}: {kind}: {detail}", code="CONNECTION", temporary=True)
