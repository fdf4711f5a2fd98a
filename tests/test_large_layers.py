"""Files of 16 MiB or more get a gzip layer of their own (shared by the apps that ship the
same binary), files of 1 MiB or more one together; both are left alone when a small file
changes, and the image's file tree is still what one ``COPY . .`` makes (read back by skopeo
and by a buildah mount)."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest
from test_build import skopeo

from clusterbuild.plan.planner import LARGE_FILE, MEDIUM_FILE

from conftest import apply_json

pytestmark = pytest.mark.slow

BINARY = random.Random(16).randbytes(LARGE_FILE + 4096)  # one real-size binary for every app


def _workspace(root: Path) -> Path:
    lines = ["registry: docker.io/labring", "platforms: [linux/amd64]", "apps:"]
    for name in ("big-a", "big-b"):
        app = root / "applications" / name / "v1"
        (app / "opt").mkdir(parents=True)
        (app / "manifests").mkdir()
        (app / "opt/kubelet").write_bytes(BINARY)
        (app / "opt/kubelet").chmod(0o755)
        (app / "opt/tool.sh").write_text(f"#!/bin/sh\necho {name}\n")
        (app / "opt/helper").write_bytes(name.encode() + BINARY[:MEDIUM_FILE])
        (app / "manifests/cm.yaml").write_text(f"kind: ConfigMap\nmetadata:\n  name: {name}\n")
        (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"kubectl apply -f manifests\"]\n")
        lines += [f"  {name}:", "    versions: [v1]"]
    (root / "apps.yaml").write_text("\n".join(lines) + "\n")
    return root


def _layers(layout: Path, app: str) -> list[dict[str, str]]:
    raw = skopeo("inspect", "--raw", f"oci:{layout}:docker.io/labring/{app}:v1-amd64")
    layers: list[dict[str, str]] = json.loads(raw)["layers"]
    return layers


def _layer_runs(result: dict[str, object]) -> list[str]:
    ran = result["ran"]
    assert isinstance(ran, list)
    return [r["app"] for r in ran if r["kind"] == "layer"]


def test_a_large_file_has_a_shared_layer_of_its_own(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws")
    cache = tmp_path / "cache"
    cold = apply_json(ws, cache=cache)
    assert len(_layer_runs(cold)) == 5  # small and medium files of each app, one kubelet layer
    layout = ws / "out"
    a, b = _layers(layout, "big-a"), _layers(layout, "big-b")
    assert len(a) == len(b) == 3
    assert a[2]["digest"] == b[2]["digest"]
    assert a[0]["digest"] != b[0]["digest"] and a[1]["digest"] != b[1]["digest"]
    assert all(layer["mediaType"].endswith("tar+gzip") for layer in a)

    (ws / "applications/big-a/v1/opt/tool.sh").write_text("#!/bin/sh\necho edited\n")
    edited = apply_json(ws, cache=cache)
    assert _layer_runs(edited) == ["big-a"]  # the small layer only: no binary is compressed again
    assert _layers(layout, "big-a")[1:] == a[1:]


def test_the_file_tree_is_what_one_copy_makes(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws")
    apply_json(ws, cache=tmp_path / "cache")
    storage = ["--root", str(tmp_path / "b-root"), "--runroot", str(tmp_path / "b-run"),
               "--storage-driver", "vfs"]

    def buildah(*args: str) -> str:
        proc = subprocess.run(["buildah", *storage, *args], capture_output=True, text=True)
        assert proc.returncode == 0, f"buildah {' '.join(args)}: {proc.stderr}"
        return proc.stdout.strip()

    image = buildah("pull", "-q", f"oci:{ws / 'out'}:docker.io/labring/big-a:v1-amd64")
    container = buildah("from", "--pull=never", image)
    try:
        root = Path(buildah("mount", container))
        context = ws / "applications/big-a/v1"
        expected = {str(p.relative_to(context)): (p.stat().st_mode & 0o777 | 0o644, p.read_bytes())
                    for p in context.rglob("*") if p.is_file()}
        found = {str(p.relative_to(root)): (p.stat().st_mode & 0o777, p.read_bytes())
                 for p in root.rglob("*") if p.is_file()}
        assert found == expected
        assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()) == \
            ["manifests", "opt"]
        assert (root / "opt").stat().st_mode & 0o777 == 0o755
    finally:
        buildah("rm", container)
        buildah("rmi", "--all", "--force")
