"""``output.layer_compression: zstd``: layers outside registry/ as zstd, which skopeo and
buildah (and so sealos, on the same containers/image) read back; the same bytes from
separate caches."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest
from test_build import skopeo

from conftest import apply_json, images

pytestmark = pytest.mark.slow

REF = "docker.io/labring/zapp:v1"


def _workspace(root: Path) -> Path:
    app = root / "applications/zapp/v1"
    (app / "opt").mkdir(parents=True)
    (app / "manifests").mkdir()
    (app / "opt/tool").write_bytes(random.Random(3).randbytes(300_000) + b"\0" * 300_000)
    (app / "opt/tool").chmod(0o755)
    (app / "manifests/cm.yaml").write_text("kind: ConfigMap\nmetadata:\n  name: zapp\n")
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"kubectl apply -f manifests\"]\n")
    (root / "apps.yaml").write_text("registry: docker.io/labring\nplatforms: [linux/amd64]\n"
                                    "output:\n  layer_compression: zstd\n"
                                    "apps:\n  zapp:\n    versions: [v1]\n")
    return root


def test_zstd_layers_are_read_by_skopeo_and_buildah(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws")
    first = apply_json(ws, "--docker-archive", cache=tmp_path / "cache")
    layout = ws / "out"
    manifest = json.loads(skopeo("inspect", "--raw", f"oci:{layout}:{REF}-amd64"))
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar+zstd"]
    archive = next((layout / "archives").glob("*.docker.tar"))
    skopeo("inspect", f"docker-archive:{archive}")  # the docker-archive holds it uncompressed

    storage = ["--root", str(tmp_path / "b-root"), "--runroot", str(tmp_path / "b-run"),
               "--storage-driver", "vfs"]

    def buildah(*args: str) -> str:
        proc = subprocess.run(["buildah", *storage, *args], capture_output=True, text=True)
        assert proc.returncode == 0, f"buildah {' '.join(args)}: {proc.stderr}"
        return proc.stdout.strip()

    image = buildah("pull", "-q", f"oci:{layout}:{REF}-amd64")
    container = buildah("from", "--pull=never", image)
    try:
        root = Path(buildah("mount", container))
        context = ws / "applications/zapp/v1"
        for name in ("opt/tool", "manifests/cm.yaml", "Kubefile"):
            assert (root / name).read_bytes() == (context / name).read_bytes()
        assert (root / "opt/tool").stat().st_mode & 0o777 == 0o755
    finally:
        buildah("rm", container)
        buildah("rmi", "--all", "--force")

    clone = _workspace(tmp_path / "clone")
    assert images(apply_json(clone, cache=tmp_path / "cache-2")) == images(first)
