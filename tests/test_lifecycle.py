"""Interrupted builds, cache gc, scaffolding, schemas and module boundaries."""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, apply_json, cli, copy_workspace, images

BIG = "big-app"


def _add_big_app(ws: Path, size_mb: int = 100) -> None:
    """An app whose single layer takes long enough to write that a kill lands mid-build."""
    app = ws / "applications" / BIG / "latest"
    (app / "registry").mkdir(parents=True)
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"bash entrypoint.sh\"]\n")
    (app / "manifests").mkdir()
    (app / "manifests/a.yaml").write_text("kind: ConfigMap\n")
    with open(app / "registry/blob", "wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(1 << 20))
    apps_yaml = ws / "apps.yaml"
    apps_yaml.write_text(apps_yaml.read_text() + f"  {BIG}:\n    versions: [\"v1\"]\n"
                         "    platforms: [linux/amd64]\n")


def test_killed_apply_resumes_to_the_same_digests(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _add_big_app(ws)
    # a gzip layer (not registry/, which is stored uncompressed): slow enough to interrupt
    os.rename(ws / f"applications/{BIG}/latest/registry", ws / f"applications/{BIG}/latest/data")
    proc = subprocess.Popen([sys.executable, "-m", "clusterbuild", "apply", "-C", str(ws), BIG],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp_dir = ws / "cache/tmp"
    deadline = time.monotonic() + 60
    while not (tmp_dir.is_dir() and any(f.stat().st_size > 1 << 20 for f in tmp_dir.iterdir())):
        assert proc.poll() is None, "apply finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (ws / "out/index.json").exists()
    resumed = apply_json(ws, BIG)
    assert not any((ws / "cache/tmp").iterdir()), "temp files of the killed run are left"
    clean = apply_json(ws, BIG,
                       cache=tmp_path / "fresh-cache")
    assert images(resumed) == images(clean)


def test_cache_gc_keeps_what_the_workspace_needs(workspace: Path) -> None:
    apply_json(workspace)
    blobs = workspace / "cache/blobs/sha256"
    before = set(os.listdir(blobs))
    manifest = workspace / "applications/hello-tools/latest/manifests/configmap.yaml"
    manifest.write_text(manifest.read_text() + "  extra: value\n")
    apply_json(workspace)
    grown = set(os.listdir(blobs))
    assert grown > before
    dry = cli("cache", "gc", "-C", str(workspace), "--dry-run").stdout
    assert "would remove" in dry and set(os.listdir(blobs)) == grown
    report = cli("cache", "gc", "-C", str(workspace)).stdout
    assert report.startswith("removed ")
    after = set(os.listdir(blobs))
    assert after < grown and (grown - after) <= before  # only superseded blobs went
    plan = json.loads(cli("plan", "-C", str(workspace), "--json").stdout)
    assert plan["summary"]["stale"] == 0
    assert apply_json(workspace)["ran"] == []


def test_new_scaffolds_an_app_that_builds(workspace: Path) -> None:
    out = cli("new", "my-app", "-C", str(workspace), "--version", "v1.2.3").stdout
    assert "created applications/my-app/latest/" in out
    result = apply_json(workspace, "my-app")
    assert "docker.io/labring/my-app:v1.2.3" in images(result)
    again = cli("new", "my-app", "-C", str(workspace), check=False)
    assert again.returncode == 3 and "already exists" in again.stderr


def test_new_writes_nothing_when_apps_yaml_cannot_take_the_app(tmp_path: Path) -> None:
    (tmp_path / "apps.yaml").write_text("registry: r.io/x\napps: {a: {versions: [v1]}}\n")
    proc = cli("new", "b", "-C", str(tmp_path), check=False)
    assert proc.returncode == 3 and "apps: is written in flow style" in proc.stderr
    assert not (tmp_path / "applications").exists()


@pytest.mark.parametrize("which,committed", [("workspace", "apps.schema.json"),
                                             ("app", "clusterbuild.schema.json")])
def test_committed_json_schemas_are_current(which: str, committed: str) -> None:
    printed = cli("schema", which).stdout
    assert printed == (REPO / "schemas" / committed).read_text(), \
        f"run: clusterbuild schema {which} > schemas/{committed}"
    assert "additionalProperties" in printed


LOW = ("schema", "oci", "kubefile", "plan")  # values and pure functions: the bottom of the arrows
ABOVE = ("workspace", "execute", "places", "cache", "commands", "cli", "bot", "fetch", "discover",
         "importer", "settings")
# Pure parsers (stdlib and yaml only, no I/O) that the schema uses to refuse a bad edit
# expression while loading clusterbuild.yaml, naming its field.
PURE_ABOVE = frozenset({"clusterbuild.fetch.sed", "clusterbuild.fetch.yq", "clusterbuild.fetch.textread"})


def _imports(path: Path) -> set[str]:
    """Every module a source file imports, lazily inside functions included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_low_packages_import_nothing_above_them() -> None:
    for module in PURE_ABOVE:  # the exception holds only while they stay pure
        path = REPO / (module.replace(".", "/") + ".py")
        assert all(not m.startswith("clusterbuild.") or m in PURE_ABOVE for m in _imports(path)), module
    wrong = []
    for package in LOW:
        for path in sorted((REPO / "clusterbuild" / package).rglob("*.py")):
            for module in _imports(path):
                above = module.startswith(tuple(f"clusterbuild.{up}" for up in ABOVE))
                if above and module not in PURE_ABOVE:
                    wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert wrong == []


def test_steps_are_constructed_only_in_plan() -> None:
    kinds = re.compile(r"\b(Layer|Image|Index|Export|Scan|Pull|Registry|Push|Fetch|Unpack|Script)Step\(")
    outside = [str(p.relative_to(REPO)) for p in (REPO / "clusterbuild").rglob("*.py")
               if "plan" not in p.parts and kinds.search(p.read_text(encoding="utf-8"))]
    assert outside == []


def test_pure_layers_do_not_import_io_or_terminal_code() -> None:
    pure = ["clusterbuild.schema.loading", "clusterbuild.schema.models", "clusterbuild.plan.planner",
            "clusterbuild.plan.status", "clusterbuild.plan.graph", "clusterbuild.plan.results",
            "clusterbuild.plan.sources", "clusterbuild.oci.model", "clusterbuild.oci.filetree",
            "clusterbuild.kubefile.evaluate", "clusterbuild.kubefile.copy"]
    forbidden = ("httpx", "diskcache_community", "rich", "typer", "clusterbuild.cache",
                 "clusterbuild.execute", "clusterbuild.cli", "clusterbuild.places",
                 "clusterbuild.workspace", "clusterbuild.commands")
    code = (f"import sys\nfor m in {pure!r}: __import__(m)\n"
            f"print('\\n'.join(m for m in sys.modules if m.startswith({forbidden!r})))")
    leaked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    assert leaked == []


def test_import_prints_then_writes_a_spec_and_never_overwrites(tmp_path: Path) -> None:
    app = tmp_path / "applications/demo/latest"
    app.mkdir(parents=True)
    (tmp_path / "apps.yaml").write_text("registry: r.io/x\napps:\n  demo:\n    versions: [v1]\n")
    (app / "init.sh").write_text(
        "#!/bin/bash\nARCH=${1:-amd64}\nVERSION=${3:-v1}\nmkdir -p manifests\n"
        "wget -q https://example.com/${VERSION}/install.yaml -O manifests/install.yaml\n"
        "sed -i 's/a/b/' manifests/install.yaml\n")
    printed = cli("import", "demo", "-C", str(tmp_path)).stdout
    assert "url: https://example.com/{{ version }}/install.yaml" in printed
    assert "kind: sed" in printed and "s/a/b/" in printed  # the sed -i became a declared edit
    assert "init.sh:4 mkdir -p manifests: not needed" in printed  # every line accounted for
    assert not (app / "clusterbuild.yaml").exists()
    cli("import", "demo", "-C", str(tmp_path), "--write")
    assert "kind: manifest" in (app / "clusterbuild.yaml").read_text()
    again = cli("import", "demo", "-C", str(tmp_path), "--write", check=False)
    assert again.returncode == 3 and "exists" in again.stderr
