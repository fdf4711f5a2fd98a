"""Charts shipped in registry/ as OCI chart artifacts (images.charts_as_oci), pulled back
with the helm library from the tree served by docker-registry."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import helm_python
import pytest
from test_pull_build import _registry_root, skopeo

from conftest import apply_json, cli, copy_workspace, running_registry, tgz

pytestmark = pytest.mark.slow

WEB = {
    "Chart.yaml": b"apiVersion: v2\nname: web\nversion: 0.3.0\nappVersion: \"1.25\"\n"
                  b"description: a chart committed as a directory\n",
    "values.yaml": b"replicas: 2\n",
    "templates/deploy.yaml": b"kind: ConfigMap\napiVersion: v1\nmetadata: {name: web}\n"
                             b"data: {replicas: \"{{ .Values.replicas }}\"}\n",
}
DB_CHART = b"apiVersion: v2\nname: db\nversion: 1.2.0+build.7\n"
PACKAGE = tgz({"db/Chart.yaml": DB_CHART, "db/templates/cm.yaml": b"kind: ConfigMap\n"})


def _chart_app(ws: Path, enabled: bool = True, chart_yaml: bytes = WEB["Chart.yaml"]) -> None:
    """An app with a chart directory and a packaged chart (PACKAGE)."""
    app = ws / "applications/charts-app/latest"
    for rel, data in {**WEB, "Chart.yaml": chart_yaml}.items():
        (app / "charts/web" / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / "charts/web" / rel).write_bytes(data)
    (app / "charts/db-1.2.0.tgz").write_bytes(PACKAGE)
    (app / "Kubefile").write_text("FROM scratch\nCOPY charts charts\nCOPY registry registry\n"
                                  "CMD [\"helm upgrade -i web charts/web\"]\n")
    (app / "clusterbuild.yaml").write_text(
        f"images:\n  discover: \"off\"\n  charts_as_oci: {str(enabled).lower()}\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text()
                                  + "  charts-app:\n    versions: [\"v1\"]\n")


def _files(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def test_charts_ship_as_oci_artifacts_helm_can_pull(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _chart_app(ws)
    result = apply_json(ws, "charts-app")
    assert sorted(r["kind"] for r in result["ran"] if r["kind"] == "chart") == ["chart", "chart"]
    ref = "docker.io/labring/charts-app:v1-arm64"
    root = _registry_root(ws / "out", ref, tmp_path / "arm64")
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    with running_registry(root / "registry", tmp_path) as address:
        helm_python.pull(f"oci://{address}/charts/web", version="0.3.0", plain_http=True,
                         destination=pulled)
        helm_python.pull(f"oci://{address}/charts/db", version="1.2.0+build.7", plain_http=True,
                         destination=pulled)
        raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false",
                                f"docker://{address}/charts/web:0.3.0"))
        config = json.loads(skopeo("inspect", "--raw", "--config", "--tls-verify=false",
                                   f"docker://{address}/charts/web:0.3.0"))
    assert raw["config"]["mediaType"] == "application/vnd.cncf.helm.config.v1+json"
    assert [layer["mediaType"] for layer in raw["layers"]] == [
        "application/vnd.cncf.helm.chart.content.v1.tar+gzip"]
    assert (config["name"], config["version"], config["appVersion"]) == ("web", "0.3.0", "1.25")
    assert _files(pulled / "web-0.3.0.tgz") == {f"web/{rel}": data for rel, data in WEB.items()}
    assert (pulled / "db-1.2.0+build.7.tgz").read_bytes() == PACKAGE  # shipped byte for byte

    again = copy_workspace(tmp_path / "again")
    _chart_app(again)
    apply_json(again, "charts-app", cache=tmp_path / "other-cache")
    index = json.loads((ws / "out/index.json").read_text())
    assert index == json.loads((again / "out/index.json").read_text())  # reproducible


def test_charts_stay_out_of_registry_by_default(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _chart_app(ws, enabled=False)
    (ws / "applications/charts-app/latest/registry").mkdir()  # what COPY registry finds then
    result = apply_json(ws, "charts-app")
    assert not [r for r in result["ran"] if r["kind"] in ("chart", "registry")]


def test_a_chart_without_a_version_is_refused(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _chart_app(ws, chart_yaml=b"apiVersion: v2\nname: web\n")
    proc = cli("plan", "-C", str(ws), "charts-app", check=False)
    assert proc.returncode == 3, proc.stderr
    assert "charts/web/Chart.yaml" in proc.stderr and "'version'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_packaged_chart_without_chart_yaml_is_refused(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _chart_app(ws)
    (ws / "applications/charts-app/latest/charts/db-1.2.0.tgz").write_bytes(
        tgz({"db/values.yaml": b"a: 1\n"}))
    proc = cli("plan", "-C", str(ws), "charts-app", check=False)
    assert proc.returncode == 3 and "charts/db-1.2.0.tgz" in proc.stderr, proc.stderr
