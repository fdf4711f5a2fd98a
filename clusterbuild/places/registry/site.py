"""Reading what a registry holds: its repositories (``_catalog``), a repository's tags, and a
byte range of a blob (what ``bundle --list-have`` and ``unbundle`` read on the site)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from clusterbuild.oci.digest import Digest
from clusterbuild.places.registry.auth import pull_scope
from clusterbuild.places.registry.config import Endpoint
from clusterbuild.places.registry.errors import RegistryError
from clusterbuild.places.registry.session import RegistrySession

PAGE = 1000


def _pages(session: RegistrySession, endpoint: Endpoint, path: str, key: str, scopes: tuple[str, ...],
           doing: str) -> list[str]:
    out: list[str] = []
    url: str | None = f"{path}?n={PAGE}"
    while url:
        response = session.request("GET", endpoint, url, scopes, doing)
        out += [str(x) for x in (response.json().get(key) or [])]
        link = response.headers.get("link", "")
        url = None
        if link.startswith("<") and 'rel="next"' in link:
            url = str(response.url.join(link[1:link.index(">")]))
    return out


def list_catalog(session: RegistrySession, endpoint: Endpoint) -> list[str]:
    return _pages(session, endpoint, "/v2/_catalog", "repositories", ("registry:catalog:*",),
                  f"listing the repositories of {endpoint}")


def list_tags(session: RegistrySession, endpoint: Endpoint, repository: str) -> list[str]:
    return _pages(session, endpoint, f"/v2/{repository}/tags/list", "tags", pull_scope(repository),
                  f"listing the tags of {endpoint}/{repository}")


def blob_range(session: RegistrySession, endpoint: Endpoint, repository: str, digest: Digest,
               offset: int = 0, size: int | None = None) -> Iterator[bytes]:
    doing = f"reading blob {digest} of {endpoint}/{repository}"
    headers = {"Accept-Encoding": "identity"}
    if offset or size is not None:
        headers["Range"] = f"bytes={offset}-" + ("" if size is None else str(offset + size - 1))
    response = session.request("GET", endpoint, f"/v2/{repository}/blobs/{digest}", pull_scope(repository),
                               doing, headers=headers, stream=True, ok=(200, 206))
    try:
        if response.status_code == 200 and offset:
            raise RegistryError(f"{doing}: the registry does not serve byte ranges", code="UNSUPPORTED")
        left = size
        for chunk in response.iter_bytes():
            if left is not None:
                chunk = chunk[:left]
                left -= len(chunk)
            yield chunk
            if left == 0:
                break
    except httpx.TransportError as exc:
        raise RegistryError(f"{doing}: {exc}", code="CONNECTION", temporary=True) from None
    finally:
        response.close()
