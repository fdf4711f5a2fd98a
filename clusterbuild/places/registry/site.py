"""Reading what a registry holds: its repositories (``_catalog``), a repository's tags, a
byte range of a blob (what ``bundle --list-have`` and ``unbundle`` read on the site), and the
referrers of a manifest where the registry has the referrers API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import MediaType
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


NO_REFERRERS_API = (404, 405)  # what a registry without the referrers API answers (distribution 2.8: 404)


def list_referrers(session: RegistrySession, endpoint: Endpoint, repository: str,
                   digest: Digest) -> list[dict[str, Any]] | None:
    """What ``GET /v2/<name>/referrers/<digest>`` lists (OCI distribution-spec 1.1), or None when
    the registry has no referrers API: it answers 404 (or 405), or 200 with something that is
    not an image index."""
    doing = f"listing the referrers of {endpoint}/{repository}@{digest}"
    response = session.request("GET", endpoint, f"/v2/{repository}/referrers/{digest}",
                               pull_scope(repository), doing, headers={"Accept": MediaType.INDEX.value},
                               ok=(200, *NO_REFERRERS_API))
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("manifests"), list) or \
            body.get("mediaType", MediaType.INDEX.value) != MediaType.INDEX.value:
        return None
    return [m for m in body["manifests"] if isinstance(m, dict)]
