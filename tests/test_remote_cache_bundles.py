"""Bundles of the remote step cache (``execute.step_bundles``) on Debian's docker-registry,
seen through a proxy that logs every request: a machine with an empty cache reads one bundle
per app version and platform and looks no step up by its tag; a damaged bundle is a warning
and its steps are looked up one by one; a cache without bundles gets them from the next
pushing run; a bundle of an older build of the same sources serves what did not change."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from registry_servers import Fault, FaultProxy
from test_remote_cache import kinds_ran, machine, storage  # noqa: F401 (a fixture)

from clusterbuild.oci.digest import Digest

from conftest import apply_json, images, ran_steps

pytestmark = pytest.mark.slow

GROUPS = 6  # the example's three apps x two platforms
VERSIONS = 3  # one bundle read per app version: each covers the other platform's
INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.fixture
def proxy(storage: Any) -> Iterator[FaultProxy]:  # noqa: F811
    logged = FaultProxy(storage[0])
    yield logged
    logged.stop()


def _cache(proxy: FaultProxy) -> tuple[str, ...]:
    return ("--remote-cache", f"{proxy.address}/ci/cache", "--insecure-registry", proxy.address)


def _manifests(proxy: FaultProxy, method: str = "GET") -> list[str]:
    """The manifest names of the requests the proxy saw."""
    return [e.path.rsplit("/", 1)[1] for e in proxy.log if e.method == method and "/manifests/" in e.path]


def _bundle_tags(registry: str) -> list[str]:
    tags = httpx.get(f"http://{registry}/v2/ci/cache/tags/list").json()["tags"]
    return sorted(t for t in tags if t.startswith("bundle-"))


def _drop_bundles(data: Path) -> None:
    for tag in (data / "docker/registry/v2/repositories/ci/cache/_manifests/tags").glob("bundle-*"):
        shutil.rmtree(tag)


def test_a_fresh_machine_reads_one_bundle_per_app_version_and_platform(
        tmp_path: Path, storage: Any, proxy: FaultProxy) -> None:  # noqa: F811
    registry, _ = storage
    a_ws = machine(tmp_path, "a", registry)
    a = apply_json(a_ws, *_cache(proxy), "--cache-push")
    assert a["remote_cache"]["bundle_uploads"] == GROUPS and not a["warnings"], a
    assert len([m for m in _manifests(proxy, "PUT") if m.startswith("bundle-")]) == GROUPS
    proxy.reset()
    b = apply_json(machine(tmp_path, "b", registry, lock_from=a_ws), *_cache(proxy))
    asked = _manifests(proxy)
    assert len(asked) == VERSIONS and all(m.startswith("bundle-") for m in asked), asked
    assert b["remote_cache"]["lookups"] == 0 and b["remote_cache"]["bundles"] == VERSIONS
    assert kinds_ran(b) == {"export"} and images(b) == images(a)
    assert not b["warnings"], b["warnings"]
    proxy.reset()  # a pushing machine that finds everything in the bundles writes none
    c = apply_json(machine(tmp_path, "c", registry, lock_from=a_ws), *_cache(proxy), "--cache-push")
    assert kinds_ran(c) == {"export"} and c["remote_cache"]["bundle_uploads"] == 0
    assert not _manifests(proxy, "PUT") and not c["warnings"], c["warnings"]


def _lying(index: bytes) -> bytes:
    """The bundle with its entries' manifests rotated by one, each still matching the digest its
    descriptor names (a bundle that says a record is of another step than it is)."""
    body = json.loads(index)
    entries = body["manifests"]
    moved = [{k: e[k] for k in ("data", "digest", "size")} for e in entries[1:] + entries[:1]]
    for entry, other in zip(entries, moved, strict=True):
        entry.update(other)
    return json.dumps(body).encode()


def _damaged(index: bytes) -> bytes:
    """The bundle with one byte of its first entry's manifest changed (its digest no longer
    matches: the entry is left out)."""
    body = json.loads(index)
    data = bytearray(base64.b64decode(body["manifests"][0]["data"]))
    data[-2] ^= 0x01
    body["manifests"][0]["data"] = base64.b64encode(bytes(data)).decode()
    return json.dumps(body).encode()


def _served(registry: str) -> dict[str, tuple[str, bytes]]:
    """Each bundle's label (app:version [platform]) -> its tag and bytes."""
    out = {}
    for tag in _bundle_tags(registry):
        data = httpx.get(f"http://{registry}/v2/ci/cache/manifests/{tag}", headers={"Accept": INDEX}).content
        out[json.loads(data)["annotations"]["org.clusterbuild.bundle"]] = (tag, data)
    return out


def test_damaged_bundles_are_looked_past_and_the_build_is_the_same(
        tmp_path: Path, storage: Any, proxy: FaultProxy) -> None:  # noqa: F811
    registry, _ = storage
    a_ws = machine(tmp_path, "a", registry)
    a = apply_json(a_ws, *_cache(proxy), "--cache-push")
    served = _served(registry)
    assert len(served) == GROUPS and all(len(json.loads(d)["manifests"]) >= 2 for _, d in served.values())
    changed = {"hello-chart:v0.1.0 [linux/amd64]": b"{not json",
               "hello-chart:v0.1.0 [linux/arm64]": _damaged(served["hello-chart:v0.1.0 [linux/arm64]"][1]),
               "with-images:v1 [linux/amd64]": _lying(served["with-images:v1 [linux/amd64]"][1]),
               "with-images:v1 [linux/arm64]": _lying(served["with-images:v1 [linux/arm64]"][1])}
    proxy.reset()
    proxy.inject(*(Fault(f"/manifests/{served[label][0]}$", "replace", status=200,
                         headers={"Content-Type": INDEX}, body=body) for label, body in changed.items()))
    b = apply_json(machine(tmp_path, "b", registry, lock_from=a_ws), *_cache(proxy))
    assert kinds_ran(b) == {"export"} and images(b) == images(a)
    warned = [w for w in b["warnings"] if "remote cache" in w]
    assert any("the bundle of hello-chart:v0.1.0 [linux/amd64]" in w for w in warned), warned
    assert any("with-images:v1" in w and "unusable record in its bundle" in w for w in warned), warned
    assert len(warned) == len(set(warned)) and not [w for w in warned if "hello-tools" in w], warned
    assert b["remote_cache"]["bundles"] == VERSIONS  # hello-chart's arm64 bundle read too
    looked_up = [m for m in _manifests(proxy) if not m.startswith("bundle-")]
    assert looked_up and len(looked_up) == b["remote_cache"]["lookups"], looked_up


def test_the_next_pushing_run_writes_missing_bundles_and_adds_to_older_ones(
        tmp_path: Path, storage: Any, proxy: FaultProxy) -> None:  # noqa: F811
    registry, data = storage
    a_ws = machine(tmp_path, "a", registry)
    a = apply_json(a_ws, *_cache(proxy), "--cache-push")
    _drop_bundles(data)  # a remote cache filled before bundles
    b = apply_json(machine(tmp_path, "b", registry, lock_from=a_ws), *_cache(proxy), "--cache-push")
    assert kinds_ran(b) == {"export"} and b["remote_cache"]["lookups"] > 0
    assert b["remote_cache"]["bundle_uploads"] == GROUPS and not b["warnings"], b["warnings"]
    c = apply_json(machine(tmp_path, "c", registry, lock_from=a_ws), *_cache(proxy))
    assert c["remote_cache"]["lookups"] == 0 and images(c) == images(a)

    def edited(name: str) -> Path:  # the same sources, another Kubefile: the same bundle keys
        ws = machine(tmp_path, name, registry, lock_from=a_ws)
        (ws / "applications/with-images/latest/Kubefile").write_text(
            "FROM scratch\nCOPY . .\nLABEL edited=yes\nCMD [\"true\"]\n")
        return ws
    d = apply_json(edited("d"), *_cache(proxy), "--cache-push")
    assert {r["kind"] for r in d["ran"] if r["app"] == "with-images"} >= {"image", "index"}
    assert not {r["app"] for r in d["ran"] if r["kind"] != "export"} - {"with-images"}, d["ran"]
    assert d["remote_cache"]["bundle_uploads"] == 2 and not d["warnings"], d["warnings"]
    e = apply_json(edited("e"), *_cache(proxy))
    assert kinds_ran(e) == {"export"} and e["remote_cache"]["lookups"] == 0
    assert images(e) == images(d) and not e["warnings"], e["warnings"]
    f = apply_json(machine(tmp_path, "f", registry, lock_from=a_ws), *_cache(proxy))  # the older build
    assert kinds_ran(f) == {"export"} and f["remote_cache"]["lookups"] == 0 and images(f) == images(a)


def test_a_shard_writes_the_bundle_of_its_platform_only(
        tmp_path: Path, storage: Any, proxy: FaultProxy) -> None:  # noqa: F811
    registry, _ = storage
    a_ws = machine(tmp_path, "a", registry)
    a = apply_json(a_ws, *_cache(proxy), "--cache-push", "--shard", "--push-to", f"{registry}/first",
                   "with-images:v1@linux/amd64")
    assert a["remote_cache"]["bundle_uploads"] == 1 and not a["warnings"], a["warnings"]
    served = _served(registry)
    assert list(served) == ["with-images:v1 [linux/amd64]"]
    tag, data = served["with-images:v1 [linux/amd64]"]
    assert json.loads(data)["annotations"]["org.clusterbuild.bundle.covers"] == tag
    proxy.reset()
    b = apply_json(machine(tmp_path, "b", registry, lock_from=a_ws), *_cache(proxy))
    asked = [m for m in _manifests(proxy) if m.startswith("bundle-")]
    assert len(asked) == GROUPS and b["remote_cache"]["bundles"] == 1, asked  # the rest: 404
    ran = ran_steps(b)
    assert ("image", "with-images", ("linux/arm64",)) in ran, ran
    assert ("image", "with-images", ("linux/amd64",)) not in ran, ran
    assert not b["warnings"], b["warnings"]


def test_bundle_keys_follow_the_sources() -> None:
    from clusterbuild.execute.step_bundles import Bundle, bundle_group, bundle_index, read_bundle
    from clusterbuild.oci.platform import Platform

    amd64, arm64 = Platform("linux", "amd64"), Platform("linux", "arm64")
    one = bundle_group("app", "v1", amd64, ["b" * 64, "a" * 64])
    assert one == bundle_group("app", "v1", amd64, ["a" * 64, "b" * 64])  # the same sources
    assert one.tag != bundle_group("app", "v1", arm64, ["a" * 64, "b" * 64]).tag
    assert one.tag != bundle_group("app", "v1", amd64, ["a" * 64, "c" * 64]).tag
    assert one.tag != bundle_group("app", "v2", amd64, ["a" * 64, "b" * 64]).tag
    assert len(one.tag) <= 128 and one.tag.startswith("bundle-")
    steps = {"k1": b'{"one": 1}', "k2": b'{"two": 2}'}
    index = bundle_index(one, steps, [one.tag, "bundle-other"])
    assert read_bundle(index) == Bundle(steps, frozenset({one.tag, "bundle-other"}))
    body = json.loads(index)
    assert body["mediaType"] == INDEX and {m["digest"] for m in body["manifests"]} == {
        str(Digest.of_bytes(v)) for v in steps.values()}
