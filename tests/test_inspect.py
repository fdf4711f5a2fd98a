"""``inspect`` against what skopeo and the layout say: the example images, an image whose
registry/ tree holds pulled images (served back by docker-registry), archives, a registry."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from conftest import apply_json, cli, copy_workspace, images, running_registry

pytestmark = pytest.mark.slow

CHART = "docker.io/labring/hello-chart:v0.1.0"
TOOLS = "docker.io/labring/hello-tools:v1.0.0"


def skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert proc.returncode == 0, f"skopeo {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def inspected(ws: Path, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cli("inspect", "-C", str(ws), "--json", *args).stdout)
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    ws = copy_workspace(tmp_path_factory.mktemp("inspect") / "ws")
    return ws, images(apply_json(ws, "--archive", "--docker-archive"))


@pytest.mark.parametrize("ref", [CHART, TOOLS])
@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_example_images_match_skopeo(built: tuple[Path, dict[str, str]], ref: str, platform: str) -> None:
    ws, digests = built
    app_version = ref.rpartition("/")[2]
    found = inspected(ws, app_version, "--platform", platform)
    arch = platform.split("/")[1]
    oci = f"oci:{ws / 'out'}:{ref}-{arch}"
    assert found["digest"] == digests[ref] and found["manifest"] == digests[f"{ref}-{arch}"]
    assert found["platforms"] == ["linux/amd64", "linux/arm64"] and found["platform"] == platform
    config = json.loads(skopeo("inspect", "--config", oci))["config"]
    assert found["labels"] == config.get("Labels", {}) and found["env"] == config["Env"]
    manifest = json.loads(skopeo("inspect", "--raw", oci))
    assert [(la["digest"], la["mediaType"], la["size"]) for la in found["layers"]] == [
        (la["digest"], la["mediaType"], la["size"]) for la in manifest["layers"]]
    assert found["type"] == "application" and found["registry"] == []


def test_sealos_commands_have_variables_expanded(built: tuple[Path, dict[str, str]]) -> None:
    ws, _ = built
    found = inspected(ws, "hello-chart:v0.1.0")
    assert found["commands"] == ["helm upgrade -i hello-chart charts/hello-chart -n hello "
                                 "--create-namespace --set replicaCount=1"]
    assert "$(NAME)" in " ".join(found["cmd"]) or "${NAME}" in " ".join(found["cmd"]) \
        or "$NAME" in " ".join(found["cmd"])
    text = cli("inspect", "-C", str(ws), "hello-chart:v0.1.0").stdout
    assert "  $ helm upgrade -i hello-chart charts/hello-chart -n hello" in text
    assert "charts/  4 files" in text


def test_archives_read_as_the_layout(built: tuple[Path, dict[str, str]]) -> None:
    ws, digests = built
    archives = ws / "out" / "archives"
    oci = inspected(ws, str(archives / "hello-tools-v1.0.0-arm64.tar"))
    assert oci["digest"] == digests[f"{TOOLS}-arm64"] and oci["platform"] == "linux/arm64"
    docker = inspected(ws, str(archives / "hello-tools-v1.0.0-arm64.docker.tar"))
    assert docker["env"] == oci["env"] and docker["commands"] == oci["commands"]
    assert docker["files"] == oci["files"]


def test_missing_image_and_platform(built: tuple[Path, dict[str, str]]) -> None:
    ws, _ = built
    missing = cli("inspect", "-C", str(ws), "nope:v1", check=False)
    assert missing.returncode == 3 and "nope:v1: not in the layout" in missing.stderr
    wrong = cli("inspect", "-C", str(ws), "hello-tools:v1.0.0", "--platform", "linux/s390x", check=False)
    assert wrong.returncode == 2 and "linux/amd64, linux/arm64" in wrong.stderr


def _tree_tags(root: Path) -> dict[str, str]:
    """repo:tag -> digest, read from the registry/ tree's link files."""
    base = root / "registry/docker/registry/v2/repositories"
    out = {}
    for link in base.rglob("_manifests/tags/*/current/link"):
        repo = str(link.relative_to(base)).split("/_manifests/")[0]
        out[f"{repo}:{link.parts[-3]}"] = link.read_text()
    return out


def test_registry_images_match_the_tree_and_docker_registry(tmp_path: Path, registry: str) -> None:
    seed = copy_workspace(tmp_path / "seed")
    apply_json(seed, "hello-tools")
    pushed = f"{registry}/inspect/hello:1"
    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{seed / 'out'}:{TOOLS}", f"docker://{pushed}")

    ws = copy_workspace(tmp_path / "ws")
    app = ws / "applications/shipping/latest"
    (app / "images/shim").mkdir(parents=True)
    (app / "images/shim/list").write_text(f"{pushed}\n")
    (app / "Kubefile").write_text("FROM scratch\nENV NS=apps\nCOPY . .\n"
                                  "CMD [\"kubectl apply -n $(NS) -f manifests\", \"echo ${NS}\"]\n")
    text = (ws / "apps.yaml").read_text().replace(
        "apps:\n", f"registries:\n  insecure: [\"{registry}\"]\napps:\n")
    (ws / "apps.yaml").write_text(text + "  shipping:\n    versions: [\"v1\"]\n")
    apply_json(ws, "shipping", "--platform", "linux/arm64")

    found = inspected(ws, "shipping:v1")
    assert found["commands"] == ["kubectl apply -n apps -f manifests", "echo apps"]
    shipped = [(i["reference"], i["platform"]) for i in found["registry"]]
    assert shipped == [("inspect/hello:1", "linux/arm64")]

    copied = tmp_path / "copied"
    skopeo("copy", f"oci:{ws / 'out'}:docker.io/labring/shipping:v1-arm64", f"dir:{copied}")
    root = tmp_path / "root"
    for layer in json.loads((copied / "manifest.json").read_text())["layers"]:
        with tarfile.open(copied / layer["digest"].split(":")[1]) as tar:
            tar.extractall(root, filter="tar")
    assert {i["reference"]: i["digest"] for i in found["registry"]} == _tree_tags(root)
    with running_registry(root / "registry", tmp_path) as address:
        for image in found["registry"]:
            raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{address}/{image['reference']}")
            assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == image["digest"]
            manifest = json.loads(raw)
            parts = [manifest["config"], *manifest["layers"]]
            assert image["size"] == len(raw.encode()) + sum(part["size"] for part in parts)

    remote = inspected(ws, f"docker://{pushed}", "--insecure-registry", registry, "--platform", "linux/amd64")
    assert remote["manifest"] == images(apply_json(seed, "hello-tools"))[f"{TOOLS}-amd64"]
    assert remote["env"] == inspected(seed, "hello-tools:v1.0.0", "--platform", "linux/amd64")["env"]
