"""The cache holds each shipped image once: pulled blobs live as ranges of the registry/ layer.

Images with incompressible layers (random bytes, above ``HELD_MIN``) are pushed to a real
docker-registry; an app ships them through images/shim/list. After ``apply`` no file in the
cache or in out/ other than the registry/ layer holds a pulled layer's bytes, and everything
that reads those blobs (a changed image list, a layout export, ``cache gc``, the remote cache)
still finds them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from oci_push import OCI_INDEX, OCI_MANIFEST, digest_of, put_blob, put_manifest

from clusterbuild.cache.results import CacheIndex
from clusterbuild.cache.store import HELD_MIN, BlobStore
from clusterbuild.oci.digest import Digest

from conftest import apply_json, cli, copy_workspace, image_files, images

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"
REFS = ("docker.io/labring/held:v1-amd64", "docker.io/labring/held:v1-arm64")


def _push(registry: str, name: str) -> list[str]:
    """A two-platform image whose layers are 200 kB of random bytes; the layers' digests."""
    manifests, layers = [], []
    for arch in ("amd64", "arm64"):
        layer = put_blob(registry, name, os.urandom(200_000), LAYER)
        layers.append(layer["digest"])
        config = put_blob(registry, name, json.dumps({"architecture": arch, "os": "linux"}).encode(),
                          CONFIG)
        body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
        desc = put_manifest(registry, name, digest_of(json.dumps(body, indent=2).encode()), body)
        manifests.append({**desc, "platform": {"architecture": arch, "os": "linux"}})
    put_manifest(registry, name, "1", {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
    return layers


@pytest.fixture(scope="module")
def pushed(registry: str) -> dict[str, Any]:
    return {"registry": registry, "a": _push(registry, "held/a"), "b": _push(registry, "held/b")}


def _workspace(root: Path, pushed: dict[str, Any], *names: str) -> Path:
    ws = copy_workspace(root)
    app = ws / "applications/held/latest"
    (app / "images/shim").mkdir(parents=True)
    _ship(ws, pushed, *names)
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"true\"]\n")
    text = (ws / "apps.yaml").read_text()
    text = text.replace("apps:\n", f"registries:\n  insecure: [\"{pushed['registry']}\"]\napps:\n")
    (ws / "apps.yaml").write_text(text + "  held:\n    versions: [\"v1\"]\n")
    return ws


def _ship(ws: Path, pushed: dict[str, Any], *names: str) -> None:
    listed = "".join(f"{pushed['registry']}/held/{n}:1\n" for n in names)
    (ws / "applications/held/latest/images/shim/list").write_text(listed)


def _files_holding(*roots: Path) -> dict[str, list[Path]]:
    """sha256 of every regular file under ``roots`` (one path per inode) -> its paths."""
    seen: set[tuple[int, int]] = set()
    found: dict[str, list[Path]] = {}
    for root in roots:
        for path in root.rglob("*"):
            st = path.lstat()
            if not path.is_file() or path.is_symlink() or (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
            found.setdefault(digest, []).append(path)
    return found


def _shipped(ws: Path, tmp: Path) -> dict[str, str]:
    """registry/ blob paths of both platform images -> sha256 of their bytes (read by skopeo)."""
    shipped = {}
    for n, ref in enumerate(REFS):
        files = image_files(ws / "out", ref, tmp / str(n))
        shipped.update({f"{ref} {name}": digest_of(data) for name, data in files.items()
                        if name.startswith("registry/docker/registry/v2/blobs/") and name.endswith("/data")})
    return shipped


def kinds(result: dict[str, Any]) -> list[str]:
    return sorted(r["kind"] for r in result["ran"])


def test_pulled_layers_are_stored_once_inside_the_registry_layer(tmp_path: Path,
                                                                 pushed: dict[str, Any]) -> None:
    ws = _workspace(tmp_path / "ws", pushed, "a")
    apply_json(ws, "held")
    store = BlobStore(ws / "cache")
    holding = _files_holding(ws / "cache", ws / "out")
    for layer in pushed["a"]:
        digest = Digest.parse(layer)
        assert layer not in holding, f"{layer} has a file of its own: {holding.get(layer)}"
        assert store.has(digest, 200_000) and (store.held_dir / digest.hex).is_file()
        assert store.read_bytes(digest) and digest_of(store.read_bytes(digest)) == layer
    shipped = _shipped(ws, tmp_path / "read")
    for ref, layer in zip(REFS, pushed["a"], strict=True):  # each platform's image ships its layer
        name = f"registry/docker/registry/v2/blobs/sha256/{layer[7:9]}/{layer[7:]}/data"
        assert shipped[f"{ref} {name}"] == layer
    assert all(digest_of(b"") != d for d in shipped.values())
    small = [d for d in store.digests() if (store.path(d)).stat().st_size < HELD_MIN]
    assert small, "small blobs (manifests, configs) keep their files"

    again = apply_json(ws, "held")
    assert again["ran"] == [], kinds(again)


def test_a_changed_image_list_reads_the_held_ranges(tmp_path: Path, pushed: dict[str, Any]) -> None:
    ws = _workspace(tmp_path / "ws", pushed, "a")
    apply_json(ws, "held")
    _ship(ws, pushed, "a", "b")
    result = apply_json(ws, "held")
    pulled = [r for r in result["ran"] if r["kind"] == "pull"]
    assert len(pulled) == 2 and all("held/b" in json.dumps(r) for r in pulled), pulled  # not a again
    assert "layer" in kinds(result)  # the registry/ layer, written from a's held ranges and b
    shipped = set(_shipped(ws, tmp_path / "read").values())
    assert set(pushed["a"]) | set(pushed["b"]) <= shipped
    holding = _files_holding(ws / "cache", ws / "out")
    assert not (set(pushed["a"]) | set(pushed["b"])) & set(holding)
    record = json.loads((BlobStore(ws / "cache").held_dir / pushed["a"][0][7:]).read_text())
    assert len(record["in"]) == 2, record  # held by the old layer and the new one


def test_gc_gives_a_live_blob_its_file_before_its_layer_goes(tmp_path: Path, pushed: dict[str, Any]) -> None:
    ws = _workspace(tmp_path / "ws", pushed, "a")
    apply_json(ws, "held")
    _ship(ws, pushed, "a", "b")  # the old registry/ layer is no longer needed; a's pulls still are
    cli("cache", "gc", "-C", str(ws))
    store = BlobStore(ws / "cache")
    for layer in pushed["a"]:
        digest = Digest.parse(layer)
        assert store.path(digest).is_file() and not (store.held_dir / digest.hex).exists()
        assert digest_of(store.path(digest).read_bytes()) == layer
    result = apply_json(ws, "held")
    assert not any("held/a" in json.dumps(r) for r in result["ran"] if r["kind"] == "pull")
    assert set(pushed["a"]) | set(pushed["b"]) <= set(_shipped(ws, tmp_path / "read").values())

    _ship(ws, pushed, "b")
    apply_json(ws, "held")
    report = cli("cache", "gc", "-C", str(ws)).stdout
    assert "removed" in report.lower(), report
    for layer in pushed["a"]:  # nothing needs a any more: no file, no record
        digest = Digest.parse(layer)
        assert not store.has(digest) and not (store.held_dir / digest.hex).exists()
    for layer in pushed["b"]:
        assert store.has(Digest.parse(layer), 200_000)
    again = apply_json(ws, "held")
    assert again["ran"] == [], kinds(again)


def test_the_remote_cache_uploads_held_blobs(tmp_path: Path, pushed: dict[str, Any]) -> None:
    remote = f"{pushed['registry']}/held-cache/{tmp_path.name}"
    a_ws = _workspace(tmp_path / "a", pushed, "a")
    a = apply_json(a_ws, "held", "--remote-cache", remote, "--cache-push")
    assert not a["warnings"], a["warnings"]
    b_ws = _workspace(tmp_path / "b", pushed, "a", "b")  # b also ships b: a's pulls come from the cache
    (b_ws / "apps.lock").unlink(missing_ok=True)
    b = apply_json(b_ws, "held", "--remote-cache", remote)
    assert not b["warnings"], b["warnings"]
    assert not any("held/a" in json.dumps(r) for r in b["ran"] if r["kind"] == "pull"), kinds(b)
    assert set(pushed["a"]) | set(pushed["b"]) <= set(_shipped(b_ws, tmp_path / "read").values())
    c_ws = _workspace(tmp_path / "c", pushed, "a")
    c = apply_json(c_ws, "held", "--remote-cache", remote)
    assert images(c) == images(a) and "pull" not in kinds(c)


def _two_apps(root: Path, pushed: dict[str, Any]) -> Path:
    """App ``held`` ships images a and b, app ``held-too`` only a: four registry/ layers."""
    ws = _workspace(root, pushed, "a", "b")
    app = ws / "applications/held"
    shutil.copytree(app, ws / "applications/held-too")
    (ws / "applications/held-too/latest/images/shim/list").write_text(f"{pushed['registry']}/held/a:1\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  held-too:\n    versions: [\"v1\"]\n")
    return ws


def test_large_layers_are_fetched_once_straight_into_the_registry_layer(tmp_path: Path,
                                                                       pushed: dict[str, Any]) -> None:
    """Pull steps leave the large layers in the registry; the registry step fetches each into
    its range of the layer (a layer bit flipped on the way is fetched again), once for the
    whole run though two apps ship it."""
    from registry_servers import Fault, FaultProxy

    proxy = FaultProxy(pushed["registry"])
    try:
        ws = _two_apps(tmp_path / "ws", {**pushed, "registry": proxy.address})
        flipped = pushed["a"][0]
        proxy.inject(Fault(f"/blobs/{flipped}", "corrupt"))
        result = apply_json(ws, "--jobs", "2")
        assert not result["warnings"], result["warnings"]
        assert kinds(result).count("registry") == 4 and kinds(result).count("pull") == 4
        layers = pushed["a"] + pushed["b"]
        for layer in layers:
            fetched = [e for e in proxy.log if e.method == "GET" and e.path.endswith(f"/blobs/{layer}")]
            assert len(fetched) == (2 if layer == flipped else 1), (layer, fetched)
            assert proxy.sent_for(f"/blobs/{layer}") == 200_000 * len(fetched)
        shipped = _shipped(ws, tmp_path / "read")
        assert set(layers) <= set(shipped.values())  # skopeo verifies every digest it reads
        store = BlobStore(ws / "cache")
        for layer in layers:  # never a file of its own, only a range of a registry/ layer
            assert not store.path(Digest.parse(layer)).exists() and store.has(Digest.parse(layer), 200_000)
        assert not any((ws / "cache/tmp").iterdir())
        index = CacheIndex(ws / "cache")
        try:
            records = [index.get("step", key) or {} for key in index.names("step")]
        finally:
            index.close()
        left = {d for r in records for d in r.get("left", [])}
        assert left == set(layers)  # the pull steps left them (and do not count on them)
        assert not left & {d for r in records if "left" in r for d in r["blobs"]}
        assert apply_json(ws)["ran"] == []
    finally:
        proxy.stop()


def test_a_layer_that_cannot_be_fetched_fails_only_its_registry_step(tmp_path: Path,
                                                                    pushed: dict[str, Any]) -> None:
    from registry_servers import Fault, FaultProxy

    proxy = FaultProxy(pushed["registry"])
    try:
        ws = _workspace(tmp_path / "ws", {**pushed, "registry": proxy.address}, "a")
        proxy.inject(Fault(f"/blobs/{pushed['a'][1]}", "status", status=404, times=100))  # arm64's
        proc = cli("apply", "-C", str(ws), "held", "--json", check=False)
        assert proc.returncode != 0
        assert pushed["a"][1] in proc.stderr and "held/a" in proc.stderr, proc.stderr
        assert not any((ws / "cache/tmp").iterdir())  # no part of a layer left behind
        proxy.reset()
        again = apply_json(ws, "held")
        assert "pull" not in kinds(again)  # the pulls were done: only the missing layer is fetched
        assert [e.path for e in proxy.log if e.method == "GET" and "/blobs/" in e.path] == [
            f"/v2/held/a/blobs/{pushed['a'][1]}"]
        assert set(pushed["a"]) <= set(_shipped(ws, tmp_path / "read").values())
    finally:
        proxy.stop()


def test_a_blob_claimed_by_a_running_step_is_waited_for_then_claimed_again() -> None:
    """BlobClaims: the second step to lack a blob waits for the first (whatever became of it);
    a blob nobody holds any more can be claimed again."""
    from clusterbuild.execute.registry import BlobClaims

    claims = BlobClaims()
    x, y = Digest("a" * 64), Digest("b" * 64)
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with claims.claim([x]) as theirs:
            assert theirs == []
            first_in.set()
            order.append("first working")
            threading.Event().wait(0.2)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait()
    with claims.claim([x, y]) as theirs:
        assert len(theirs) == 1  # x is the first's; y is this one's
        for claimed in theirs:
            claimed.wait()
        order.append("second goes on")
    thread.join()
    assert order == ["first working", "first done", "second goes on"]
    with claims.claim([x, y]) as theirs:
        assert theirs == []
