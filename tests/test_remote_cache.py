"""The remote step cache on Debian's docker-registry: two "CI machines" (two clones, two local
caches) share step results through one repository; damaged or missing entries build locally."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.digest import Digest

from conftest import apply_json, cli, copy_workspace, images, running_registry

pytestmark = pytest.mark.slow

TOOLS = "docker.io/labring/hello-tools:v1.0.0"
BUILD_KINDS = {"layer", "image", "index", "pull", "registry"}


def skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert proc.returncode == 0, f"skopeo {' '.join(args)}: {proc.stderr}"
    return proc.stdout


@pytest.fixture
def storage(tmp_path: Path) -> Any:
    """A registry of its own (its storage is corrupted by some tests), seeded with an image
    that the app `with-images` ships in registry/."""
    with running_registry(tmp_path / "registry-data", tmp_path) as address:
        seed = copy_workspace(tmp_path / "seed")
        apply_json(seed, "hello-tools")
        skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{seed / 'out'}:{TOOLS}",
               f"docker://{address}/seed/hello:1")
        yield address, tmp_path / "registry-data"


def machine(tmp_path: Path, name: str, registry: str, lock_from: Path | None = None) -> Path:
    """A clone of the example workspace with an app that ships an image from ``registry``
    (with the apps.lock of ``lock_from``, as a clone of a repository that commits it)."""
    ws = copy_workspace(tmp_path / name)
    if lock_from is not None:
        shutil.copy2(lock_from / "apps.lock", ws / "apps.lock")
    app = ws / "applications/with-images/latest"
    (app / "images/shim").mkdir(parents=True)
    (app / "images/shim/list").write_text(f"{registry}/seed/hello:1\n")
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"true\"]\n")
    text = (ws / "apps.yaml").read_text()
    text = text.replace("apps:\n", f"registries:\n  insecure: [\"{registry}\"]\napps:\n")
    (ws / "apps.yaml").write_text(text + "  with-images:\n    versions: [\"v1\"]\n")
    return ws


def kinds_ran(result: dict[str, Any]) -> set[str]:
    return {r["kind"] for r in result["ran"]}


def test_second_machine_runs_no_build_step_and_gets_the_same_digests(tmp_path: Path, storage: Any) -> None:
    registry, _ = storage
    remote = f"{registry}/ci/cache"
    a_ws = machine(tmp_path, "a", registry)
    a = apply_json(a_ws, "--remote-cache", remote, "--cache-push")
    assert kinds_ran(a) >= BUILD_KINDS and a["remote_cache"]["uploads"] > 0
    assert not a["warnings"], "\n".join(a["warnings"])
    b_ws = machine(tmp_path, "b", registry, lock_from=a_ws)
    plan = json.loads(cli("plan", "-C", str(b_ws), "--json", "--remote-cache", remote).stdout)
    states = {s["status"] for s in plan["steps"]}
    assert "cached remotely" in states and "not needed" in states, plan["summary"]
    assert {s["kind"] for s in plan["steps"] if s["status"] == "stale"} == {"export"}
    b = apply_json(b_ws, "--remote-cache", remote)
    assert not kinds_ran(b) & BUILD_KINDS, kinds_ran(b)
    assert kinds_ran(b) == {"export"}
    assert images(b) == images(a)
    assert b["remote_cache"]["records"] > 0 and b["remote_cache"]["uploads"] == 0
    assert not b["warnings"], "\n".join(b["warnings"])
    skopeo("inspect", "--raw", f"oci:{b_ws / 'out'}:docker.io/labring/with-images:v1-arm64")


def test_only_needed_blobs_move_when_pushing_to_the_cache_registry(tmp_path: Path, storage: Any) -> None:
    """A shard pushing to the registry of the remote cache mounts layers from the cache
    repository: it fetches records and small metadata, never the registry/ layer."""
    registry, _ = storage
    remote = f"{registry}/ci/cache"
    a = apply_json(machine(tmp_path, "a", registry), "--remote-cache", remote, "--cache-push",
                   "--shard", "--push-to", f"{registry}/first")
    assert {"push", "registry", "layer"} <= kinds_ran(a) and "export" not in kinds_ran(a)
    b = apply_json(machine(tmp_path, "b", registry), "--remote-cache", remote, "--shard",
                   "--push-to", f"{registry}/second")
    assert kinds_ran(b) == {"push"}, kinds_ran(b)
    registry_layer = max(int(r["size"]) for r in _layers(registry, "first/with-images:v1-amd64"))
    assert b["remote_cache"]["blob_bytes"] < registry_layer, b["remote_cache"]  # records: bundles
    for arch in ("amd64", "arm64"):
        first = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry}/first/with-images:v1-{arch}")
        second = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry}/second/with-images:v1-{arch}")
        assert first == second
        skopeo("copy", "--src-tls-verify=false", f"docker://{registry}/second/with-images:v1-{arch}",
               f"oci:{tmp_path / 'read'}:{arch}")
    assert {p["ref"] for p in b["pushed"]} == {
        f"{registry}/second/{app}:{tag}" for app, tag in (
            ("hello-chart", "v0.1.0-amd64"), ("hello-chart", "v0.1.0-arm64"),
            ("hello-tools", "v1.0.0-amd64"), ("hello-tools", "v1.0.0-arm64"),
            ("with-images", "v1-amd64"), ("with-images", "v1-arm64"))}


def _layers(registry: str, name: str) -> list[dict[str, Any]]:
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry}/{name}")
    layers: list[dict[str, Any]] = json.loads(raw)["layers"]
    return layers


def test_corrupt_or_missing_remote_entries_build_locally(tmp_path: Path, storage: Any) -> None:
    registry, data = storage
    remote = f"{registry}/ci/cache"
    a = apply_json(machine(tmp_path, "a", registry), "--remote-cache", remote, "--cache-push")
    blobs = data / "docker/registry/v2/blobs/sha256"
    layers = [p for p in blobs.glob("*/*/data") if not p.read_bytes().startswith(b"{")]  # not JSON
    largest = max(layers, key=lambda p: p.stat().st_size)  # the registry/ layer (bundles are larger)
    largest.write_bytes(b"x" * largest.stat().st_size)
    b = apply_json(machine(tmp_path, "b", registry), "--remote-cache", remote)
    assert "registry" in kinds_ran(b), kinds_ran(b)
    assert any("remote cache" in w for w in b["warnings"]), b["warnings"]
    assert images(b) == images(a)
    # a cache repository that does not exist, and a registry that does not answer: local builds
    c = apply_json(machine(tmp_path, "c", registry), "--remote-cache", f"{registry}/nothing/here")
    assert images(c) == images(a) and not c["warnings"]
    shutil.rmtree(tmp_path / "c" / "cache")
    gone = apply_json(machine(tmp_path, "d", registry), "--remote-cache", "127.0.0.1:9/cache",
                      "--insecure-registry", "127.0.0.1:9", "--timeout", "5")
    assert images(gone) == images(a)
    about = [w for w in gone["warnings"] if "remote cache 127.0.0.1:9/cache" in w]
    assert len(about) == 1 and "unreachable" in about[0], about  # given up once, not per step


def test_a_remote_cache_that_stops_answering_is_given_up_at_once(tmp_path: Path, storage: Any) -> None:
    """A docker-registry that held the cache and then stopped: the first look-up that cannot
    connect gives the remote cache up for the run (one warning; no look-up, fetch or upload
    retries after it), and the build is the local one."""
    registry, _ = storage
    with running_registry(tmp_path / "gone-data", tmp_path) as gone:
        pass  # stopped: its port refuses connections now
    remote = f"{gone}/ci/cache"
    a = apply_json(machine(tmp_path, "a", registry), "--remote-cache", remote, "--cache-push",
                   "--insecure-registry", gone)
    assert kinds_ran(a) >= BUILD_KINDS and a["remote_cache"]["uploads"] == 0
    about = [w for w in a["warnings"] if f"remote cache {remote}" in w]
    assert len(about) == 1 and "unreachable" in about[0] and "ConnectError" in about[0], about
    assert a["remote_cache"]["records"] == 0


def _with_tool(ws: Path, url: str) -> Path:
    """An app whose Kubefile copies a per-platform file downloaded from ``url`` to opt/."""
    app = ws / "applications/with-tool/latest"
    app.mkdir(parents=True)
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"true\"]\n")
    (app / "clusterbuild.yaml").write_text(
        f"inputs:\n  - kind: url\n    url: \"{url}/tool-{{{{ arch }}}}\"\n    dest: opt/tool\n"
        "images:\n  discover: \"off\"\n")
    with (ws / "apps.yaml").open("a") as f:
        f.write("  with-tool:\n    versions: [\"v1\"]\n")
    return ws


def _drop_tags(data: Path, repository: str, kinds: tuple[str, ...]) -> int:
    tags = data / f"docker/registry/v2/repositories/{repository}/_manifests/tags"
    gone = [t for t in tags.iterdir() if t.name.startswith(kinds)]
    for tag in gone:
        shutil.rmtree(tag)
    return len(gone)


def test_inputs_planning_never_reads_stay_in_the_remote_cache(tmp_path: Path, storage: Any,
                                                              static_server: tuple[str, Path]) -> None:
    """A file that only a layer reads (opt/) is not fetched by a machine that takes the layer
    from the remote cache; when the layer must be built here, its bytes come from the remote
    cache (the origin is gone), and the digests are the same."""
    registry, data = storage
    url, www = static_server
    tools = {arch: bytes([n]) * 300_000 for n, arch in enumerate(("amd64", "arm64"))}
    for arch, body in tools.items():
        (www / f"tool-{arch}").write_bytes(body)
    remote = f"{registry}/ci/cache"
    a_ws = _with_tool(machine(tmp_path, "a", registry), url)
    a = apply_json(a_ws, "--remote-cache", remote, "--cache-push")
    assert "fetch" in kinds_ran(a) and not a["warnings"], a["warnings"]
    for body in www.iterdir():
        body.unlink()  # the origin is gone: B and C can only get the files from the remote cache
    b_ws = _with_tool(machine(tmp_path, "b", registry, lock_from=a_ws), url)
    b = apply_json(b_ws, "--remote-cache", remote)
    assert kinds_ran(b) == {"export"} and not b["warnings"], (kinds_ran(b), b["warnings"])
    assert images(b) == images(a)
    store = BlobStore(b_ws / "cache")
    for body in tools.values():
        assert not store.has(Digest.of_bytes(body)), "B fetched a file only a layer reads"
    assert _drop_tags(data, "ci/cache", ("layer-", "image-", "index-", "bundle-")) > 0
    c_ws = _with_tool(machine(tmp_path, "c", registry, lock_from=a_ws), url)
    c = apply_json(c_ws, "--remote-cache", remote)
    assert "layer" in kinds_ran(c) and "fetch" not in kinds_ran(c), kinds_ran(c)
    assert images(c) == images(a) and not c["warnings"], c["warnings"]
