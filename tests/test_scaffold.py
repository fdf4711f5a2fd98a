"""``init`` in an empty directory, then ``new`` with a chart, a manifest and a binary served by
a local HTTP server: each app checks, locks and builds, and its README is not in the image."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import cli, tgz

pytestmark = pytest.mark.slow

ELF_MACHINE = {"amd64": 62, "arm64": 183}


def _elf(arch: str) -> bytes:
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + (2).to_bytes(2, "little")
    return header + ELF_MACHINE[arch].to_bytes(2, "little") + b"\0" * 44


def _publish(root: Path) -> None:
    (root / "charts").mkdir()
    chart = tgz({"web/Chart.yaml": b"apiVersion: v2\nname: web\nversion: 1.2.0\n",
                 "web/values.yaml": b"replicas: 1\n", "web/templates/cm.yaml": b"kind: ConfigMap\n"})
    (root / "charts/web-1.2.0.tgz").write_bytes(chart)
    entry = {"name": "web", "version": "1.2.0", "urls": ["web-1.2.0.tgz"],
             "digest": hashlib.sha256(chart).hexdigest()}
    (root / "charts/index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": {"web": [entry]}}))
    (root / "v2.0.0").mkdir()
    (root / "v2.0.0/install.yaml").write_text("kind: ConfigMap\nmetadata:\n  name: m\n")
    for arch in ELF_MACHINE:
        (root / f"v2.0.0/tool-linux-{arch}.tar.gz").write_bytes(tgz({"tool": _elf(arch)}))


def _inspect(ws: Path, ref: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(cli("inspect", "-C", str(ws), ref, "--json").stdout)
    return found


def test_init_makes_a_workspace_that_checks_and_plans(tmp_path: Path) -> None:
    ws = tmp_path / "new-ws"
    out = cli("init", str(ws)).stdout
    assert "created apps.yaml" in out
    assert yaml.safe_load((ws / "apps.yaml").read_text())["apps"] == {}
    assert "/out/" in (ws / ".gitignore").read_text()
    assert "0 app versions checked, 0 problems" in cli("check", "-C", str(ws)).stdout
    assert "0 steps" in cli("plan", "-C", str(ws)).stdout
    again = cli("init", str(ws), check=False)
    assert again.returncode == 3 and "already exists" in again.stderr


def test_init_keeps_the_app_dirs_of_a_catalogue_checkout(tmp_path: Path) -> None:
    ws = tmp_path / "cluster-image"
    for app in ("cert-manager", "helm"):
        (ws / "applications" / app / "latest").mkdir(parents=True)
        (ws / "applications" / app / "latest" / "init.sh").write_text("#!/bin/bash\n")
    out = cli("init", str(ws)).stdout
    assert "kept applications/ (2 app dirs: list the ones to build" in out
    assert "created applications/" not in out
    assert (ws / "applications/helm/latest/init.sh").read_text() == "#!/bin/bash\n"


def test_new_chart_manifest_and_binary_apps_build_without_their_readme(
        tmp_path: Path, static_server: tuple[str, Path]) -> None:
    url, root = static_server
    _publish(root)
    ws = tmp_path / "ws"
    cli("init", str(ws), "--platform", "linux/amd64", "--platform", "linux/arm64")
    cli("new", "web", "-C", str(ws), "--chart", f"{url}/charts/web@1.2.0")
    cli("new", "deploy", "-C", str(ws), "--manifest", f"{url}/v2.0.0/install.yaml", "--version", "v2.0.0")
    cli("new", "tool", "-C", str(ws), "--binary", f"{url}/v2.0.0/tool-linux-{{{{ arch }}}}.tar.gz",
        "--version", "v2.0.0")
    assert yaml.safe_load((ws / "apps.yaml").read_text())["apps"] == {
        "web": {"versions": ["1.2.0"]}, "deploy": {"versions": ["v2.0.0"]}, "tool": {"versions": ["v2.0.0"]}}
    spec = (ws / "applications/deploy/latest/clusterbuild.yaml").read_text()
    assert 'url: "' + url + '/{{ version }}/install.yaml"' in spec  # the version is templated
    for app in ("web", "deploy", "tool"):
        assert (ws / f"applications/{app}/README.md").is_file()
        assert not (ws / f"applications/{app}/latest/README.md").exists()
    assert "3 app versions checked, 0 problems" in cli("check", "-C", str(ws)).stdout
    cli("lock", "-C", str(ws))
    cli("apply", "-C", str(ws))
    for ref, top in (("web:1.2.0", "charts/"), ("deploy:v2.0.0", "manifests/"), ("tool:v2.0.0", "opt/")):
        for platform in ("linux/amd64", "linux/arm64"):
            found = json.loads(cli("inspect", "-C", str(ws), ref, "--platform", platform, "--json").stdout)
            paths = [f["path"] for f in found["files"]]
            assert top in paths and "README.md" not in paths, paths
            assert found["labels"]["sealos.io.type"] == "application"
    web = _inspect(ws, "web:1.2.0")
    assert web["commands"] == ["bash web.sh"] and "CHARTS=./charts/web" in web["env"]


def test_new_takes_an_empty_apps_mapping_and_says_how_to_add_by_hand(tmp_path: Path) -> None:
    (tmp_path / "apps.yaml").write_text("registry: r.io/x\napps: {}\n")
    cli("new", "a", "-C", str(tmp_path))
    assert yaml.safe_load((tmp_path / "apps.yaml").read_text())["apps"] == {"a": {"versions": ["v0.1.0"]}}
    flow = tmp_path / "flow"
    flow.mkdir()
    (flow / "apps.yaml").write_text("registry: r.io/x\napps: {a: {versions: [v1]}}\n")
    proc = cli("new", "b", "-C", str(flow), check=False)
    assert proc.returncode == 3 and "\\n" not in proc.stderr
    assert 'add `b: {versions: ["v0.1.0"]}` to it by hand' in proc.stderr
    assert not (flow / "applications").exists()
    both = cli("new", "c", "-C", str(tmp_path), "--chart", "https://x.io/c", "--manifest", "https://x.io/m",
               check=False)
    assert both.returncode == 2 and "give one" in both.stderr
