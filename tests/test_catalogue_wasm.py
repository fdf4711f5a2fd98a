"""The catalogue's WebAssembly pair: the containerd-shim-spin patch image and the spin-hello
app, built from their real specs through local mirrors; the shim's install script run
against containerd configs of both versions."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from oci_push import OCI_INDEX, put_manifest
from test_catalogue_mirrors import _catalogue_workspace, _elf, _local_only, _publish_inputs
from test_pull_build import skopeo
from test_wasm import MODULE, WASM_CONFIG, WASM_LAYER, _raw_digest, _wasm_artifact

from conftest import REPO, cli, image_files, running_registry

pytestmark = pytest.mark.slow

APPS = ("containerd-shim-spin", "spin-hello")
SPIN_HELLO = "spinframework/containerd-shim-spin/examples/spin-rust-hello"
SHIM_DIR = REPO / "applications/containerd-shim-spin/latest"


def _seed_spin_hello(registry: str) -> str:
    """The example app as a wasm-only index (one wasi/wasm artifact), as Spin pushes it."""
    artifact = put_manifest(registry, SPIN_HELLO, "wasm", _wasm_artifact(
        registry, SPIN_HELLO, "wasi", MODULE + b"spin-rust-hello"))
    index = put_manifest(registry, SPIN_HELLO, "v0.21.0", {
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{**artifact, "platform": {"os": "wasi", "architecture": "wasm"}}]})
    return str(index["digest"])


def test_shim_and_wasm_app_build_for_both_arches(tmp_path: Path, static_server: tuple[str, Path],
                                                 registry: str) -> None:
    www, root = static_server
    ws = _catalogue_workspace(tmp_path, www, registry, APPS)
    _publish_inputs(ws, root)
    index = _seed_spin_hello(registry)
    env = _local_only()
    cli("lock", "-C", str(ws), env=env)
    why = cli("images", "-C", str(ws), "spin-hello", "--why", env=env).stdout
    assert f"ghcr.io/{SPIN_HELLO}:v0.21.0" in why
    cli("apply", "-C", str(ws), env=env)
    for arch in ("amd64", "arm64"):
        for version in ("v0.19.0", "v0.21.0"):
            ref = f"docker.io/labring/containerd-shim-spin:{version}-{arch}"
            files = image_files(ws / "out", ref, tmp_path / f"shim-{version}-{arch}")
            assert files["opt/containerd-shim-spin-v2"] == _elf(arch, "containerd-shim-spin-v2")
            assert {"install-shim.sh", "manifests/runtimeclass.yaml"} <= set(files)
            assert not any(p.startswith("registry/") for p in files)  # a patch ships no images
            config = json.loads(skopeo("inspect", "--config", f"oci:{ws / 'out'}:{ref}"))
            assert config["config"]["Labels"]["sealos.io.type"] == "patch"
        ref = f"docker.io/labring/spin-hello:v0.21.0-{arch}"
        files = image_files(ws / "out", ref, tmp_path / f"app-{arch}")
        tree = tmp_path / f"tree-{arch}"
        for name, data in files.items():
            if name.startswith("registry/"):
                (tree / name).parent.mkdir(parents=True, exist_ok=True)
                (tree / name).write_bytes(data)
        with running_registry(tree / "registry", tmp_path) as address:
            assert _raw_digest(address, SPIN_HELLO, ":v0.21.0") == index  # the same artifact
            def raw(suffix: str) -> dict[str, Any]:
                return dict(json.loads(skopeo("inspect", "--raw", "--tls-verify=false",
                                              f"docker://{address}/{SPIN_HELLO}{suffix}")))
            served = raw("@" + raw(":v0.21.0")["manifests"][0]["digest"])
            media_types = (served["config"]["mediaType"], served["layers"][0]["mediaType"])
            assert media_types == (WASM_CONFIG, WASM_LAYER)


def _node(tmp: Path, config: str) -> dict[str, str]:
    """A node of a test: the shim's image files, a containerd config, no restart."""
    (tmp / "config.toml").write_text(config)
    (tmp / "image").mkdir()
    subprocess.run(["cp", "-r", f"{SHIM_DIR}/.", str(tmp / "image")], check=True)
    (tmp / "image/opt").mkdir()
    (tmp / "image/opt/containerd-shim-spin-v2").write_bytes(_elf("amd64", "containerd-shim-spin-v2"))
    return {**os.environ, "SHIM_DIR": str(tmp / "bin"), "CONTAINERD_CONFIG": str(tmp / "config.toml"),
            "RESTART_CONTAINERD": "false"}


@pytest.mark.parametrize("config,table", [
    ('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = '
     '"io.containerd.runc.v2"\n', 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.spin'),
    ('version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]\n  runtime_type = '
     '"io.containerd.runc.v2"\n', 'plugins."io.containerd.cri.v1.runtime".containerd.runtimes.spin'),
])
def test_install_script_registers_the_runtime_once(tmp_path: Path, config: str, table: str) -> None:
    env = _node(tmp_path, config)
    for _ in range(2):  # a second run changes nothing
        proc = subprocess.run(["bash", str(tmp_path / "image/install-shim.sh"), "node"], env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "config.toml").read_text()
    assert text.startswith(config) and text.count(f"[{table}]") == 1
    assert 'runtime_type = "io.containerd.spin.v2"' in text
    assert (tmp_path / "config.toml.bak").read_text() == config
    installed = tmp_path / "bin/containerd-shim-spin-v2"
    assert installed.read_bytes() == _elf("amd64", "containerd-shim-spin-v2")
    assert os.access(installed, os.X_OK)


def test_install_script_applies_the_runtime_class(tmp_path: Path) -> None:
    """Without sealos on PATH (one node), then kubectl: a recording stand-in for the API server."""
    env = _node(tmp_path, "version = 2\n")
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "kubectl").write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\ncat > {tmp_path}/applied\n")
    (stubs / "kubectl").chmod(0o755)
    env |= {"PATH": f"{stubs}:/usr/bin:/bin", "RUNTIME_CLASS": "spin-fast", "SHIM_HANDLER": "spin2"}
    proc = subprocess.run(["bash", str(tmp_path / "image/install-shim.sh")], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "args").read_text().split() == ["apply", "-f", "-"]
    applied = (tmp_path / "applied").read_text()
    assert "kind: RuntimeClass" in applied and "  name: spin-fast\n" in applied
    assert "handler: spin2\n" in applied
    assert "containerd.runtimes.spin2]" in (tmp_path / "config.toml").read_text()


def test_install_script_stops_without_containerd(tmp_path: Path) -> None:
    env = _node(tmp_path, "")
    env["CONTAINERD_CONFIG"] = str(tmp_path / "missing.toml")
    proc = subprocess.run(["bash", str(tmp_path / "image/install-shim.sh"), "node"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "missing.toml not found" in proc.stderr
