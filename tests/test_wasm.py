"""WebAssembly images: architecture independent, shipped as is into every platform's registry/."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from oci_push import OCI_INDEX, OCI_MANIFEST, digest_of, put_blob, put_manifest
from test_pull_build import _registry_root, skopeo

from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor
from clusterbuild.oci.platform import Platform
from clusterbuild.places.registry.errors import RegistryError
from clusterbuild.places.registry.platform_match import select

from conftest import apply_json, cli, copy_workspace, running_registry, tgz

WASM_CONFIG = "application/vnd.wasm.config.v0+json"
WASM_LAYER = "application/wasm"
MODULE = b"\0asm\x01\0\0\0" + b"\x01\x04\x01\x60\0\0"  # a wasm module header and one type


def _child(platform: str, n: int, os_version: str = "") -> Descriptor:
    os_, arch, *variant = platform.split("/")
    return Descriptor(OCI_MANIFEST, Digest.of_bytes(bytes([n])), n, Platform(os_, arch, *variant))


def test_wasm_entries_belong_to_every_target() -> None:
    native = [_child("linux/amd64", 1), _child("linux/arm64", 2)]
    wasm = [_child("wasi/wasm", 3), _child("wasip2/wasm", 4)]
    assert select([*native, *wasm], [Platform("linux", "arm64")], "t") == [native[1], *wasm]
    assert select(wasm, [Platform("linux", "amd64")], "t") == wasm
    assert select([native[0], *wasm], [Platform("linux", "arm64")], "t") == wasm
    with pytest.raises(RegistryError, match="no manifest for linux/arm64"):
        select(native[:1], [Platform("linux", "arm64")], "t")


def test_wasm_platforms_are_recognised() -> None:
    assert all(Platform(os_, "wasm").is_wasm for os_ in ("wasi", "wasip1", "wasip2"))
    assert Platform("wasip1", "wasm32").is_wasm
    assert not Platform("linux", "amd64").is_wasm


def _wasm_artifact(registry: str, name: str, os_: str, module: bytes) -> dict[str, Any]:
    """A wasm OCI artifact as the CNCF wasm spec shapes it: its config, one application/wasm layer."""
    layer = put_blob(registry, name, module, WASM_LAYER)
    config = json.dumps({"created": "2026-01-01T00:00:00Z", "author": "clusterbuild tests",
                         "architecture": "wasm", "os": os_, "layerDigests": [layer["digest"]]}).encode()
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": WASM_CONFIG,
            "config": put_blob(registry, name, config, WASM_CONFIG), "layers": [layer]}


def _linux_image(registry: str, name: str) -> dict[str, Any]:
    layer = gzip.compress(tgz({"hello": b"linux"}), mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [digest_of(gzip.decompress(layer))]}}).encode()
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": put_blob(registry, name, config, "application/vnd.oci.image.config.v1+json"),
            "layers": [put_blob(registry, name, layer, "application/vnd.oci.image.layer.v1.tar+gzip")]}


@pytest.fixture(scope="module")
def pushed(registry: str) -> dict[str, dict[str, Any]]:
    """A plain wasm artifact, an index of only wasm entries, a linux/amd64 + wasm index."""
    out = {"plain": put_manifest(registry, "wasm/plain", "1", _wasm_artifact(
        registry, "wasm/plain", "wasip1", MODULE + b"plain"))}
    entries = []
    for os_, os_version in (("wasip1", ""), ("wasip2", "0.2.0")):
        manifest = put_manifest(registry, "wasm/only", os_, _wasm_artifact(
            registry, "wasm/only", os_, MODULE + os_.encode()))
        platform = {"os": os_, "architecture": "wasm", **({"os.version": os_version} if os_version else {})}
        entries.append({**manifest, "platform": platform})
    out["only"] = put_manifest(registry, "wasm/only", "1", {
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    linux = put_manifest(registry, "wasm/mixed", "linux", _linux_image(registry, "wasm/mixed"))
    wasm = put_manifest(registry, "wasm/mixed", "wasm", _wasm_artifact(
        registry, "wasm/mixed", "wasi", MODULE + b"mixed"))
    out["mixed-linux"], out["mixed-wasm"] = linux, wasm
    out["mixed"] = put_manifest(registry, "wasm/mixed", "1", {
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {**linux, "platform": {"os": "linux", "architecture": "amd64"}},
            {**wasm, "platform": {"os": "wasi", "architecture": "wasm"}}]})
    return out


def _wasm_app(ws: Path, registry: str) -> None:
    app = ws / "applications/wasm-app/latest"
    (app / "images/shim").mkdir(parents=True)
    (app / "images/shim/list").write_text(
        "".join(f"{registry}/wasm/{name}:1\n" for name in ("plain", "only", "mixed")))
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"true\"]\n")
    text = (ws / "apps.yaml").read_text().replace(
        "apps:\n", f"registries:\n  insecure: [\"{registry}\"]\napps:\n")
    (ws / "apps.yaml").write_text(text + "  wasm-app:\n    versions: [\"v1\"]\n")


def _raw_digest(address: str, repo: str, ref: str) -> str:
    return digest_of(skopeo("inspect", "--raw", "--tls-verify=false",
                            f"docker://{address}/{repo}{ref}").encode())


def test_wasm_images_ship_as_is_into_every_platform(tmp_path: Path, registry: str,
                                                    pushed: dict[str, dict[str, Any]]) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _wasm_app(ws, registry)
    apply_json(ws, "wasm-app")
    for arch in ("amd64", "arm64"):
        root = _registry_root(ws / "out", f"docker.io/labring/wasm-app:v1-{arch}", tmp_path / arch)
        with running_registry(root / "registry", tmp_path) as address:
            for name in ("plain", "only", "mixed"):
                assert _raw_digest(address, f"wasm/{name}", ":1") == pushed[name]["digest"]
            wasm = pushed["mixed-wasm"]["digest"]
            assert _raw_digest(address, "wasm/mixed", "@" + wasm) == wasm
            linux = httpx.head(f"http://{address}/v2/wasm/mixed/manifests/{pushed['mixed-linux']['digest']}",
                               headers={"Accept": OCI_MANIFEST})
            assert linux.status_code == (200 if arch == "amd64" else 404)
            served = json.loads(skopeo("inspect", "--raw", "--tls-verify=false",
                                       f"docker://{address}/wasm/plain:1"))
            layer = served["layers"][0]
            assert (layer["mediaType"], served["config"]["mediaType"]) == (WASM_LAYER, WASM_CONFIG)
            module = httpx.get(f"http://{address}/v2/wasm/plain/blobs/{layer['digest']}").content
            assert module == MODULE + b"plain"


def test_sync_passes_wasm_artifacts_through(tmp_path: Path, registry: str,
                                            pushed: dict[str, dict[str, Any]]) -> None:
    with running_registry(tmp_path / "second", tmp_path) as second:
        for name in ("plain", "only"):
            cli("sync", f"{registry}/wasm/{name}:1", f"{second}/copy/{name}:1", "-C", str(tmp_path),
                "--insecure-registry", registry, "--insecure-registry", second)
            assert _raw_digest(second, f"copy/{name}", ":1") == pushed[name]["digest"]
