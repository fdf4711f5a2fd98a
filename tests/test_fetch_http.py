"""Fetching over HTTP against a real threaded server on 127.0.0.1 with scripted faults."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_servers import FileServer, drop, html_error_page, http_date, status, too_many, wrong_bytes

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.fetch.http import FetchConfig, Fetcher
from clusterbuild.oci.digest import Digest

FAST = FetchConfig(retries=3, backoff=0.01, max_delay=2.0, timeout=5.0)


def payload(size: int, seed: int = 0) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (size // 32) + os.urandom(size % 32)


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def server() -> Iterator[FileServer]:
    with FileServer() as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "cache")


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FAST) as client:
        yield client


def test_fetch_streams_the_file_into_the_store(server: FileServer, store: BlobStore,
                                               fetcher: Fetcher) -> None:
    data = payload(300_000)
    url = server.serve("/releases/tool.tar.gz", data, content_type="application/gzip")
    fetched = fetcher.fetch(url, store, what="tool")
    assert fetched.digest == Digest.of_bytes(data)
    assert (fetched.size, fetched.url_used, fetched.content_type) == (len(data), url, "application/gzip")
    assert store.read_bytes(fetched.digest) == data
    assert server.seen("/releases/tool.tar.gz")[0].headers["accept-encoding"] == "identity"
    assert listing(store.tmp) == []


def test_the_same_digest_is_fetched_once(server: FileServer, store: BlobStore, fetcher: Fetcher) -> None:
    data = payload(10_000, seed=1)
    first, second = server.serve("/a/tool", data), server.serve("/b/tool", data)
    digest = Digest.of_bytes(data)
    assert fetcher.fetch(first, store, expect=digest).digest == digest
    again = fetcher.fetch(second, store, expect=digest)
    both = fetcher.fetch_many([(first, digest, "amd64"), (second, digest, "arm64")], store)
    assert again.digest == digest and [f.digest for f in both] == [digest, digest]
    assert (len(server.seen("/a/tool")), len(server.seen("/b/tool"))) == (1, 0)


def test_a_dropped_body_is_resumed_with_range(server: FileServer, store: BlobStore, fetcher: Fetcher) -> None:
    data = payload(1_000_000, seed=2)
    url = server.serve("/big", data, script=[drop(after=300_000)], etag='"v1"')
    fetched = fetcher.fetch(url, store, expect=Digest.of_bytes(data), what="big file")
    assert store.read_bytes(fetched.digest) == data
    first, second = server.seen("/big")
    assert "range" not in first.headers
    assert second.headers["range"] == "bytes=300000-"
    assert second.headers["if-range"] == '"v1"'


def test_a_server_without_ranges_makes_the_download_start_over(server: FileServer, store: BlobStore,
                                                                fetcher: Fetcher) -> None:
    data = payload(500_000, seed=3)
    url = server.serve("/noranges", data, ranges=False, script=[drop(after=100_000)])
    assert fetcher.fetch(url, store, expect=Digest.of_bytes(data)).size == len(data)
    ranges = [seen.headers.get("range") for seen in server.seen("/noranges")]
    assert ranges == [None, "bytes=100000-", None]  # the 200 to the Range request was thrown away


def test_server_errors_are_retried(server: FileServer, store: BlobStore, fetcher: Fetcher) -> None:
    data = payload(5_000, seed=4)
    url = server.serve("/flaky", data, script=[status(500), status(503)])
    assert fetcher.fetch(url, store).digest == Digest.of_bytes(data)
    assert len(server.seen("/flaky")) == 3


def test_retries_end_with_a_one_line_error(server: FileServer, store: BlobStore) -> None:
    url = server.serve("/down", b"x", script=[status(502)] * 5)
    with Fetcher(FetchConfig(retries=2, backoff=0.01)) as fetcher, pytest.raises(BuildError) as caught:
        fetcher.fetch(url, store, what="chart demo")
    message = str(caught.value)
    assert f"fetching chart demo from {url}: 502 Bad Gateway (gave up after 3 attempts)" in message
    assert "\n" not in message and len(server.seen("/down")) == 3


@pytest.mark.parametrize("retry_after", ["1", "date"])
def test_retry_after_is_honoured(server: FileServer, store: BlobStore, fetcher: Fetcher,
                                 retry_after: str) -> None:
    wait = http_date(1.5) if retry_after == "date" else retry_after  # dates have 1 s resolution
    url = server.serve("/busy", b"ok", script=[too_many(wait)])
    started = time.monotonic()
    fetcher.fetch(url, store)
    assert time.monotonic() - started >= (0.45 if retry_after == "date" else 0.95)
    assert len(server.seen("/busy")) == 2


def test_retry_after_is_capped(server: FileServer, store: BlobStore) -> None:
    url = server.serve("/very-busy", b"ok", script=[too_many("3600")])
    started = time.monotonic()
    with Fetcher(FetchConfig(backoff=0.01, max_delay=0.2)) as fetcher:
        fetcher.fetch(url, store)
    assert time.monotonic() - started < 2


def test_a_wrong_checksum_leaves_the_store_unchanged(server: FileServer, store: BlobStore,
                                                     fetcher: Fetcher) -> None:
    data = payload(50_000, seed=5)
    store.put_bytes(b"already here")
    before = listing(store.root)
    url = server.serve("/tool", data, script=[wrong_bytes(b"tampered" * 1000)])
    expect = Digest.of_bytes(data)
    with pytest.raises(BuildError) as caught:
        fetcher.fetch(url, store, expect=expect, what="hello for linux/arm64")
    message = str(caught.value)
    assert "hello for linux/arm64" in message and url in message and "checksum mismatch" in message
    assert str(expect) in message and str(Digest.of_bytes(b"tampered" * 1000)) in message
    assert listing(store.root) == before


@pytest.mark.parametrize("html_type", ["header", "body"])
def test_an_html_page_is_not_taken_for_the_file(server: FileServer, store: BlobStore, fetcher: Fetcher,
                                                html_type: str) -> None:
    if html_type == "header":
        url = server.serve("/download", b"tar bytes", script=[html_error_page()])
    else:
        url = server.serve("/download", b"  <!DOCTYPE html>\n<html>login</html>")  # octet-stream, but HTML
    with pytest.raises(BuildError, match="got an HTML page, not the file: is the URL a download link"):
        fetcher.fetch(url, store, what="manifests")
    assert not store.blobs.exists() or listing(store.blobs) == []
    if html_type == "body":
        assert fetcher.fetch(url, store, allow_html=True).size > 0


def test_not_found_is_not_retried(server: FileServer, store: BlobStore, fetcher: Fetcher) -> None:
    with pytest.raises(BuildError) as caught:
        fetcher.fetch(server.url + "/v9.9.9/tool-linux-amd64", store, what="tool for amd64")
    assert str(caught.value).startswith(f"fetching tool for amd64 from {server.url}/v9.9.9/tool-linux-amd64: "
                                        "404 Not Found (hint: check the URL")
    assert len(server.seen("/v9.9.9/tool-linux-amd64")) == 1


def test_redirects_are_followed(server: FileServer, store: BlobStore, fetcher: Fetcher) -> None:
    server.serve("/cdn/tool-1.0", b"the tool")
    url = server.redirect("/releases/latest/tool", "/cdn/tool-1.0")
    fetched = fetcher.fetch(url, store)
    assert store.read_bytes(fetched.digest) == b"the tool" and fetched.url_used == url
    loop = server.redirect("/loop", "/loop")
    with pytest.raises(BuildError, match=r"fetching .*/loop: more than 10 redirects"):
        fetcher.fetch(loop, store)


def test_mirrors_rewrite_url_prefixes(server: FileServer, store: BlobStore) -> None:
    server.serve("/gh/org/tool/releases/download/v1/tool", b"from the mirror")
    server.serve("/special/v1/tool", b"from the more specific mirror")
    mirrors = {"https://github.com/": f"{server.url}/gh/",
               "https://github.com/org/tool/releases/download/": f"{server.url}/special/"}
    with Fetcher(FetchConfig(mirrors=mirrors, backoff=0.01)) as fetcher:
        fetched = fetcher.fetch("https://github.com/org/tool/releases/download/v1/tool", store)
    assert store.read_bytes(fetched.digest) == b"from the more specific mirror"
    assert fetched.url_used == f"{server.url}/special/v1/tool"
    assert FetchConfig(mirrors=mirrors).rewrite("https://github.com/x/y") == f"{server.url}/gh/x/y"
    assert FetchConfig(mirrors=mirrors).rewrite("https://example.com/x") == "https://example.com/x"


def test_proxies_come_from_the_environment(server: FileServer, store: BlobStore,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    server.serve("/tool", b"through the proxy")
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    with Fetcher(FAST) as fetcher:
        fetched = fetcher.fetch("http://downloads.example.invalid/tool", store)
    assert store.read_bytes(fetched.digest) == b"through the proxy"
    assert server.seen("/tool")[0].target == "http://downloads.example.invalid/tool"


def test_fetch_many_runs_in_parallel_and_fetches_each_once(server: FileServer, store: BlobStore) -> None:
    files = {f"/f{i}": payload(20_000, seed=10 + i) for i in range(4)}
    urls = [server.serve(path, data, delay=0.4) for path, data in files.items()]
    requests = [(url, None, f"file {i}") for i, url in enumerate(urls)] + [(urls[0], None, "again")]
    started = time.monotonic()
    with Fetcher(FetchConfig(jobs=4)) as fetcher:
        results = fetcher.fetch_many(requests, store)
    assert time.monotonic() - started < 1.2  # four 0.4 s answers side by side, not one after another
    assert [r.digest for r in results] == [Digest.of_bytes(d) for d in files.values()] + [results[0].digest]
    assert [len(server.seen(path)) for path in files] == [1, 1, 1, 1]


def test_fetch_many_stops_at_a_failure(server: FileServer, store: BlobStore, fetcher: Fetcher) -> None:
    good = server.serve("/good", b"good")
    missing = server.url + "/missing"
    with pytest.raises(BuildError, match=r"fetching missing file from .*/missing: 404"):
        fetcher.fetch_many([(good, None, "good file"), (missing, None, "missing file")], store)


def test_timeouts_and_refused_connections_are_retried_then_reported(server: FileServer,
                                                                    store: BlobStore) -> None:
    url = server.serve("/slow", b"late", delay=1.0)
    with Fetcher(FetchConfig(retries=1, backoff=0.01, timeout=0.2)) as fetcher:
        with pytest.raises(BuildError, match=r"ReadTimeout.*gave up after 2 attempts"):
            fetcher.fetch(url, store)
        with pytest.raises(BuildError, match=r"ConnectError.*gave up after 2 attempts"):
            fetcher.fetch("http://127.0.0.1:9/nothing-listens-here", store)
        with pytest.raises(BuildError, match="hint: use an http:// or https:// URL"):
            fetcher.fetch("ftp://127.0.0.1/file", store)


def test_an_unreachable_origin_is_given_up_once_not_per_download(store: BlobStore) -> None:
    """After one download gave up connecting to a host, the others from it fail at once."""
    urls = [f"http://127.0.0.1:9/file-{n}" for n in range(20)]
    with Fetcher(FetchConfig(retries=3, backoff=0.2, jobs=2)) as fetcher:
        start = time.monotonic()
        with pytest.raises(BuildError, match=r"ConnectError.*gave up after 4 attempts"):
            fetcher.fetch(urls[0], store)
        first = time.monotonic() - start
        start = time.monotonic()
        for url in urls[1:]:
            with pytest.raises(BuildError, match=r"127.0.0.1:9 is unreachable \(an earlier download gave up"):
                fetcher.fetch(url, store)
        assert time.monotonic() - start < first / 4  # 19 more at the cost of one would be 19x


def test_a_stalling_server_fails_within_the_deadline(server: FileServer, store: BlobStore) -> None:
    url = server.serve("/stalls", b"late", delay=30)
    start = time.monotonic()
    with Fetcher(FetchConfig(deadline=2.0, timeout=1.5, backoff=0.01)) as fetcher, \
            pytest.raises(BuildError) as caught:
        fetcher.fetch(url, store)
    assert time.monotonic() - start < 4.0
    assert "no result within 2s" in str(caught.value) and "--timeout" in str(caught.value)


def test_a_redirect_loop_ends_with_a_clear_error(server: FileServer, store: BlobStore,
                                                 fetcher: Fetcher) -> None:
    url = server.redirect("/loop", "/loop")
    with pytest.raises(BuildError) as caught:
        fetcher.fetch(url, store)
    assert "more than 10 redirects (a redirect loop)" in str(caught.value)
    assert len(server.seen("/loop")) == 11


@pytest.mark.parametrize(("text", "name", "expected"), [
    (f"{'a' * 64}  tool-linux-amd64.tar.gz\n{'b' * 64}  tool-linux-arm64.tar.gz\n",
     "tool-linux-arm64.tar.gz", "b"),
    (f"{'c' * 64} *dist/tool-linux-arm64.tar.gz\n", "https://x.io/v1/tool-linux-arm64.tar.gz", "c"),
    (f"# release sums\nSHA256 (tool-linux-arm64.tar.gz) = {'d' * 64}\n", "tool-linux-arm64.tar.gz", "d"),
    (f"{'E' * 64}\n", "anything.tgz", "e"),
])
def test_checksum_files_in_every_common_shape(text: str, name: str, expected: str) -> None:
    from clusterbuild.fetch.checksums import checksum_for

    assert checksum_for(text, name, "sums").hex == expected * 64


def test_a_checksum_file_without_the_name_is_bad_input() -> None:
    from clusterbuild.errors import InputError
    from clusterbuild.fetch.checksums import checksum_for

    with pytest.raises(InputError, match=r"no sha256 for tool\.tgz among its 2 lines"):
        checksum_for(f"{'a' * 64}  a.tgz\n{'b' * 64}  b.tgz\n", "https://x/tool.tgz", "sums")
