"""``render`` inputs: a chart of the build context rendered into one file at build time, as an
init.sh does with ``helm template NAME CHART -n NS --set a=b > manifests/x.yaml``; and the
import of that line. (No helm binary here: the text is checked against what helm template
prints for this chart, written out below.)"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import apply_json, cli, copy_workspace, image_files

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    "values.yaml": "extra:\n  enabled: false\nport: 80\n",
    "templates/NOTES.txt": "Thanks for installing {{ .Release.Name }}\n",
    "templates/_helpers.tpl": '{{- define "web.name" -}}{{ .Release.Name }}-web{{- end -}}\n',
    "templates/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                             '  name: {{ include "web.name" . }}\n  namespace: {{ .Release.Namespace }}\n'
                             "spec:\n  replicas: 1\n",
    "templates/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n"
                          "spec:\n  ports:\n    - port: {{ .Values.port }}\n---\n# an empty document\n---\n"
                          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
                          "data:\n  install: {{ .Release.IsInstall | quote }}\n",
    "templates/extra.yaml": "{{- if .Values.extra.enabled }}\napiVersion: v1\nkind: Secret\nmetadata:\n"
                            "  name: extra\n{{- end }}\n",
    "templates/hook.yaml": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n"
                           '    "helm.sh/hook": pre-install\n',
    "templates/widget.yaml": "apiVersion: x.example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
}
EXPECTED = (  # helm template web-prod charts/web -n shop --set extra.enabled=true --set port=8080
    "---\n# Source: web/templates/extra.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: extra\n"
    "---\n# Source: web/templates/svc.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
    'data:\n  install: "true"\n'
    "---\n# Source: web/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-prod\n"
    "spec:\n  ports:\n    - port: 8080\n"
    "---\n# Source: web/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
    "  name: web-prod-web\n  namespace: shop\nspec:\n  replicas: 1\n"
    "---\n# Source: web/templates/svc.yaml\n# an empty document\n"  # kind "": the first unknown kind
    "---\n# Source: web/templates/widget.yaml\napiVersion: x.example.com/v1\nkind: Widget\n"
    "metadata:\n  name: w\n"
    "---\n# Source: web/templates/hook.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n"
    '  annotations:\n    "helm.sh/hook": pre-install\n')
KUBEFILE = 'FROM scratch\nCOPY manifests manifests\nCMD ["kubectl apply -f manifests/web.yaml"]\n'


def _app(root: Path, spec: str, chart_dir: str = "web") -> tuple[Path, Path]:
    ws = copy_workspace(root)
    app = ws / "applications/shop/latest"
    for name, text in CHART.items():
        (app / chart_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (app / chart_dir / name).write_text(text)
    (app.parent / "README.md").write_text("# shop\n")
    (app / "Kubefile").write_text(KUBEFILE)
    (app / "clusterbuild.yaml").write_text(spec)
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + '  shop:\n    versions: ["v1.0.0"]\n'
                                  "    platforms: [linux/amd64]\n")
    return ws, app


def _layer_files(ws: Path, tmp: Path) -> dict[str, bytes]:
    return image_files(ws / "out", "docker.io/labring/shop:v1.0.0-amd64", tmp)


RENDER = ("inputs:\n  - kind: render\n    chart: web\n    release: web-prod\n    namespace: shop\n"
          "    set: [extra.enabled=true, 'port={{ 8000 + 80 }}']\n    dest: manifests/web.yaml\n"
          "images:\n  discover: sealos\n")


def test_a_render_input_is_the_chart_as_helm_template_prints_it(tmp_path: Path) -> None:
    ws, _ = _app(tmp_path / "ws", RENDER)
    cli("check", "-C", str(ws), "shop")  # the Kubefile's COPY manifests is satisfied by the render
    apply_json(ws, "shop")
    files = _layer_files(ws, tmp_path)
    assert files == {"manifests/web.yaml": EXPECTED.encode()}



def test_a_render_input_that_cannot_render_is_bad_input_naming_the_field(tmp_path: Path) -> None:
    cases = (("chart: web", "chart: nowhere", "inputs[0].chart: nowhere is not a chart of the build context"),
             ("release: web-prod", "release: Web_Prod", "inputs[0].release"),
             ("set: [extra.enabled=true, 'port={{ 8000 + 80 }}']", "set: [a]", "inputs[0]: rendering web"))
    for n, (before, after, says) in enumerate(cases):
        ws, _ = _app(tmp_path / f"ws{n}", RENDER.replace(before, after))
        proc = cli("apply", "-C", str(ws), "shop", check=False)
        assert proc.returncode == 3 and says in proc.stderr, proc.stderr
        error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(error) == 1 and "clusterbuild.yaml" in error[0], proc.stderr
        assert not (ws / "out").exists() or not any((ws / "out").rglob("*.tar")), "nothing half-built"


SCRIPT = """#!/bin/bash
set -e
cd "$(dirname "${BASH_SOURCE[0]}")" >/dev/null 2>&1
export readonly VERSION=${3:-$(basename "$PWD")}
rm -rf manifests/ && mkdir -p manifests/
helm template web-prod web -n shop --create-namespace --set extra.enabled=true --set port=8080 --debug \\
  > manifests/web.yaml
"""


def test_helm_template_into_a_file_the_image_ships_imports_as_a_render_input(tmp_path: Path) -> None:
    from clusterbuild.importer import convert_init_sh, write_conversion

    ws, app = _app(tmp_path / "ws", "inputs: []\n")
    (app / "clusterbuild.yaml").unlink()
    conversion = convert_init_sh(SCRIPT, "shop", app_dir=app)
    assert [s for s in conversion.skipped if "not convertible" in s] == []
    assert conversion.spec["inputs"] == [{
        "kind": "render", "chart": "web", "release": "web-prod", "namespace": "shop",
        "set": ["extra.enabled=true", "port=8080"], "dest": "manifests/web.yaml"}]
    assert any(c.startswith("init.sh:6 helm template web-prod web") and "render manifests/web.yaml" in c
               for c in conversion.converted)
    write_conversion(app, conversion)
    cli("check", "-C", str(ws), "shop")
    apply_json(ws, "shop")
    assert _layer_files(ws, tmp_path) == {"manifests/web.yaml": EXPECTED.encode()}
    for flags, why in (("--include-crds", "--include-crds"), ("--set-string a=b", "--set-string"),
                       ("--skip-tests", "--skip-tests")):
        refused = convert_init_sh(SCRIPT.replace("--debug", flags), "shop", app_dir=app)
        assert any("not convertible" in s and why in s for s in refused.skipped), refused.skipped


def test_the_image_scan_reads_what_a_render_input_renders_of_a_chart_outside_charts(tmp_path: Path) -> None:
    spec = ("inputs:\n  - kind: render\n    chart: charts-untar/web\n    release: traffic\n"
            "    dest: manifests/web.yaml\nimages:\n  discover: sealos\n")
    ws, app = _app(tmp_path / "ws", spec, chart_dir="charts-untar/web")
    (app / "charts-untar/web/templates/pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
        "    - image: ghcr.io/acme/{{ .Release.Name }}:1.0\n")
    found = json.loads(cli("images", "-C", str(ws), "shop", "--json").stdout)
    assert {item["reference"] for item in found} == {"ghcr.io/acme/traffic:1.0"}


def test_a_copy_input_copies_context_files_in_each_build_and_a_missing_source_is_bad_input(
        tmp_path: Path) -> None:
    spec = ("inputs:\n  - kind: copy\n    src: web/templates\n    dest: manifests\n    contents: true\n"
            "images:\n  discover: sealos\n")
    ws, app = _app(tmp_path / "ws", spec)
    (app / "web/templates/.hidden.yaml").write_text("kind: Secret\n")
    cli("check", "-C", str(ws), "shop")
    apply_json(ws, "shop")
    files = _layer_files(ws, tmp_path)
    assert sorted(files) == sorted(f"manifests/{name.removeprefix('templates/')}" for name in CHART
                                   if name.startswith("templates/"))
    assert files["manifests/deploy.yaml"] == CHART["templates/deploy.yaml"].encode()
    (app / "clusterbuild.yaml").write_text(spec.replace("web/templates", "nowhere"))
    proc = cli("apply", "-C", str(ws), "shop", check=False)
    assert proc.returncode == 3, proc.stderr
    assert "inputs[0].src: nowhere is not in the build context" in proc.stderr
