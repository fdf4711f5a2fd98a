"""Moving one blob between a registry and the content store, streamed and verified.

Downloads go to a temp file of the store, hashed on the way; an interrupted body is
resumed with ``Range`` when the server offers byte ranges, else fetched again; bytes that
do not match the digest never enter the store. Uploads are monolithic (POST + PUT) up to
the config's ``chunk_size`` and chunked (PATCH … + PUT) above it; a failed upload restarts.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx

from clusterbuild.cache.store import BlobStore, HashingWriter
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor
from clusterbuild.places.registry.auth import Scopes, pull_scope, push_scope
from clusterbuild.places.registry.config import Endpoint
from clusterbuild.places.registry.errors import RegistryError, error_from_transport
from clusterbuild.places.registry.retry import backoff_delay, check_deadline, deadline_after
from clusterbuild.places.registry.session import RegistrySession
from clusterbuild.places.transfers import metered

READ_SIZE = 1 << 20


log = logging.getLogger(__name__)


class _Restart(Exception):
    """The partial download cannot be resumed: start over with a new temp file."""


Into = Callable[[], AbstractContextManager[HashingWriter]]


def download_blob(session: RegistrySession, endpoint: Endpoint, repository: str, blob: Descriptor,
                  store: BlobStore, into: Into | None = None) -> None:
    """The blob into the store, verified; bytes that do not hash to its digest are fetched once
    more from the first byte (a flipped bit on the way), then refused; all within the
    transfer deadline. ``into``: where the bytes go instead of a blob of the store of their
    own (a region of a blob being assembled), opened again for each fresh start."""
    doing = f"fetching blob {blob.digest}"
    deadline = deadline_after(session.config)
    mismatches = 0
    for restart in range(session.config.retries + 1):
        try:
            with (into or store.writer)() as out:
                _fill(session, endpoint, repository, blob, out, doing, deadline)
                if out.size != blob.size or out.digest != blob.digest:
                    raise _Mismatch(out.size, out.digest)
            return
        except _Restart:
            time.sleep(min(backoff_delay(session.config, restart),
                           check_deadline(session.config, deadline, doing)))
        except _Mismatch as wrong:
            mismatches += 1
            if mismatches > 1:
                raise RegistryError(
                    f"{doing} from {endpoint}/{repository}: received {wrong.size} bytes of digest "
                    f"{wrong.digest} twice, expected {blob.size} bytes of {blob.digest}",
                    code="DIGEST_INVALID", hint="the registry (or a proxy) serves wrong bytes") from None
            log.debug("%s: digest mismatch, fetching it again", doing)
    raise RegistryError(f"{doing}: the body kept breaking off", code="CONNECTION", temporary=True)


class _Mismatch(Exception):
    def __init__(self, size: int, digest: Digest) -> None:
        self.size = size
        self.digest = digest


def _fill(session: RegistrySession, endpoint: Endpoint, repository: str, blob: Descriptor,
          out: HashingWriter, doing: str, deadline: float) -> None:
    """Write the blob's bytes to ``out``, resuming broken bodies with Range requests."""
    url, ranges, breaks = f"/v2/{repository}/blobs/{blob.digest}", False, 0
    while True:
        headers = {"Accept-Encoding": "identity"}
        if out.size:
            headers["Range"] = f"bytes={out.size}-"
        response = session.request("GET", endpoint, url, pull_scope(repository), doing, headers=headers,
                                   stream=True, ok=(200, 206), attempts=1 if endpoint.mirror else None,
                                   deadline=deadline)
        try:
            if out.size and not _resumes_at(response, out.size):
                raise _Restart()
            ranges = ranges or response.headers.get("accept-ranges", "").lower() == "bytes"
            with metered(f"pull {repository}@{blob.digest.short}", blob.size) as advanced:
                for chunk in response.iter_bytes():  # as received: a broken body keeps what arrived
                    out.write(chunk)
                    advanced(out.size)
                    check_deadline(session.config, deadline, doing)
                    if out.size > blob.size:
                        raise RegistryError(f"{doing}: the registry sent more than the {blob.size} "
                                            "bytes the descriptor declares", code="SIZE_INVALID")
            return
        except httpx.TransportError as e:
            breaks += 1
            if breaks > session.config.retries:
                raise error_from_transport(e, doing) from e
            if not ranges or not out.size:
                raise _Restart() from e
            time.sleep(backoff_delay(session.config, breaks - 1))
        finally:
            response.close()


def _resumes_at(response: httpx.Response, offset: int) -> bool:
    content_range = response.headers.get("content-range", "")
    return response.status_code == 206 and content_range.startswith(f"bytes {offset}-")


def blob_exists(session: RegistrySession, endpoint: Endpoint, repository: str, blob: Descriptor) -> bool:
    response = session.request("HEAD", endpoint, f"/v2/{repository}/blobs/{blob.digest}",
                               push_scope(repository), f"checking for blob {blob.digest}", ok=(200, 404))
    return response.status_code == 200


def mount_blob(session: RegistrySession, endpoint: Endpoint, repository: str, blob: Descriptor,
               source: str) -> str | None:
    """Mount ``blob`` from repository ``source``; None when mounted, else an upload location."""
    response = session.request("POST", endpoint, f"/v2/{repository}/blobs/uploads/",
                               push_scope(repository, source), f"mounting blob {blob.digest} from {source}",
                               params={"mount": str(blob.digest), "from": source}, ok=(201, 202))
    return None if response.status_code == 201 else _location(response)


def _location(response: httpx.Response) -> str:
    location = response.headers.get("location")
    if not location:
        raise RegistryError(f"{response.request.method} {response.request.url.path}: "
                            "the registry gave no upload location", code="BLOB_UPLOAD_INVALID")
    return str(response.url.join(location))


def _chunks(where: tuple[Path, int], start: int, length: int,
            sent: Callable[[int], None] = lambda done: None) -> Callable[[], Iterator[bytes]]:
    """``length`` bytes of the blob from ``start`` on; ``where`` is its file and the offset of
    its first byte there (0, or its place in the layer that holds it: ``BlobStore.locate``)."""
    path, base = where

    def read() -> Iterator[bytes]:
        with open(path, "rb") as f:
            f.seek(base + start)
            left = length
            while left > 0:
                data = f.read(min(READ_SIZE, left))
                if not data:
                    raise RegistryError(f"{path}: the blob is shorter than its descriptor says")
                left -= len(data)
                yield data
                sent(start + length - left)  # bytes of the blob handed to the connection
    return read


def upload_blob(session: RegistrySession, endpoint: Endpoint, repository: str, blob: Descriptor,
                store: BlobStore, location: str | None = None) -> None:
    """Upload a blob of the store; restart the whole upload on a temporary failure.

    A registry that says the bytes do not match the digest (DIGEST_INVALID) gets the upload
    once more when the store's file does hash to it (seen once from docker-registry 2.8 under
    load, with other uploads of the run in flight); a file that does not is removed from the
    store, so that the next run fetches or builds it again, and the error says so.
    """
    doing = f"uploading blob {blob.digest}"
    scopes = push_scope(repository)
    rechecked = False
    for attempt in range(session.config.retries + 1):
        try:
            if location is None:
                started = session.request("POST", endpoint, f"/v2/{repository}/blobs/uploads/", scopes,
                                          doing, ok=(202,))
                location = _location(started)
            with metered(f"push {repository}@{blob.digest.short}", blob.size) as sent:
                _send(session, endpoint, scopes, blob, store.locate(blob.digest)[:2], location,
                      doing, sent)
            return
        except RegistryError as e:
            if e.code == "DIGEST_INVALID" and not rechecked:
                rechecked = True
                _check_stored(store, blob, doing)
                log.warning("%s: the registry refused the bytes (%s); uploading once more", doing, e.message)
            elif not e.temporary or attempt == session.config.retries:
                raise
            location = None
            time.sleep(backoff_delay(session.config, attempt))


def _check_stored(store: BlobStore, blob: Descriptor, doing: str) -> None:
    """The store's file of ``blob`` hashes to its digest, or it is removed and this is an error."""
    digest = hashlib.sha256()
    with store.open(blob.digest) as f:
        while data := f.read(READ_SIZE):
            digest.update(data)
    if f"sha256:{digest.hexdigest()}" != str(blob.digest):
        store.remove(blob.digest)
        raise RegistryError(f"{doing}: the content store's copy is corrupt (it hashes to "
                            f"sha256:{digest.hexdigest()}); removed it", code="DIGEST_INVALID",
                            hint="run the command again: the blob is fetched or built anew")


def _send(session: RegistrySession, endpoint: Endpoint, scopes: Scopes, blob: Descriptor,
          where: tuple[Path, int], location: str, doing: str, sent: Callable[[int], None]) -> None:
    chunk, offset = session.config.chunk_size, 0
    octets = {"Content-Type": "application/octet-stream"}
    if blob.size > chunk:
        while offset < blob.size:
            length = min(chunk, blob.size - offset)
            headers = {**octets, "Content-Length": str(length),
                       "Content-Range": f"{offset}-{offset + length - 1}"}
            patched = session.request("PATCH", endpoint, location, scopes, doing, headers=headers,
                                      content=_chunks(where, offset, length, sent), ok=(202,), attempts=1)
            location, offset = _location(patched), offset + length
    rest = blob.size - offset
    url = str(httpx.URL(location).copy_merge_params({"digest": str(blob.digest)}))
    done = session.request("PUT", endpoint, url, scopes, doing,
                           headers={**octets, "Content-Length": str(rest)},
                           content=_chunks(where, offset, rest, sent) if rest else b"", ok=(201,), attempts=1)
    told = done.headers.get("docker-content-digest", "")
    if told and told != str(blob.digest):
        raise RegistryError(f"{doing}: the registry stored it as {told}", code="DIGEST_INVALID")
