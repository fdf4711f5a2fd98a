"""Catalogue apps built by their unmodified init.sh, per platform, cached and pinned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import apply_json, cli, copy_workspace, image_files, images, tree_state

INIT = """\
#!/bin/bash
set -e
ARCH=${{1:-amd64}}
NAME=${{2:-legacy}}
VERSION=${{3:-latest}}
init_dir() {{
  rm -rf opt manifests
  mkdir -p opt manifests
}}
init_dir
wget -q {url}/bin/tool-$ARCH -O opt/tool
chmod +x opt/tool
cat > manifests/cm.yaml <<EOF
kind: ConfigMap
metadata:
  name: $NAME
data:
  version: "$VERSION"
EOF
cat > Kubefile <<EOF
FROM scratch
COPY . .
CMD ["kubectl apply -f manifests"]
EOF
{extra}
"""


@pytest.fixture
def served(static_server: tuple[str, Path]) -> str:
    url, root = static_server
    (root / "bin").mkdir()
    for arch in ("amd64", "arm64"):
        (root / f"bin/tool-{arch}").write_text(f"#!/bin/sh\necho tool for {arch}\n")
    return url


def _app(ws: Path, name: str, url: str, extra: str = "", build_arch: str = "",
         entry: str = "") -> Path:
    app = ws / "applications" / name / "latest"
    app.mkdir(parents=True)
    (app / "init.sh").write_text(INIT.format(url=url, extra=extra))
    (app / "README.md").write_text(f"# {name}\n")
    if build_arch:
        (app / "build_arch").write_text(build_arch + "\n")
    apps_yaml = ws / "apps.yaml"
    apps_yaml.write_text(apps_yaml.read_text() + f"  {name}:\n    versions: [\"v1.2.3\"]\n{entry}")
    return app


def _scripts(result: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((r["app"], r["platforms"][0]) for r in result["ran"] if r["kind"] == "script")


def test_init_sh_apps_build_per_platform_and_rerun_only_when_changed(tmp_path: Path, served: str) -> None:
    ws = copy_workspace(tmp_path / "ws")
    app = _app(ws, "legacy", served)
    _app(ws, "only-amd", served, build_arch="amd64")
    first = apply_json(ws, "legacy", "only-amd")
    assert _scripts(first) == [("legacy", "linux/amd64"), ("legacy", "linux/arm64"),
                               ("only-amd", "linux/amd64")]
    assert "docker.io/labring/only-amd:v1.2.3-arm64" not in images(first)
    for arch in ("amd64", "arm64"):
        files = image_files(ws / "out", f"docker.io/labring/legacy:v1.2.3-{arch}", tmp_path / arch)
        assert files["opt/tool"] == f"#!/bin/sh\necho tool for {arch}\n".encode()
        assert b'version: "v1.2.3"' in files["manifests/cm.yaml"]
        assert b"kubectl apply -f manifests" in files["Kubefile"]
    assert not (app / "Kubefile").exists() and not (app / "opt").exists()  # source dir untouched
    lock = (ws / "apps.lock").read_text()
    assert "init.sh" in lock and "linux/arm64" in lock

    assert apply_json(ws, "legacy", "only-amd")["ran"] == []
    script = app / "init.sh"
    script.write_text(script.read_text() + "echo changed > /dev/null\n")
    again = apply_json(ws, "legacy", "only-amd")
    assert _scripts(again) == [("legacy", "linux/amd64"), ("legacy", "linux/arm64")]

    frozen = apply_json(ws, "legacy", "only-amd", "--frozen", cache=tmp_path / "other-cache")
    assert images(frozen) == images(again)  # the script ran again and left the same files
    script.write_text(script.read_text() + "true\n")
    refused = cli("apply", "-C", str(ws), "legacy", "--frozen", check=False)
    assert refused.returncode == 3 and "changed since locked" in refused.stderr


def test_a_failing_script_is_one_line_and_leaves_nothing(tmp_path: Path, served: str) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _app(ws, "broken", served, extra="echo about to fail; exit 3")
    apply_json(ws, "hello-tools")
    before = tree_state(ws / "cache/blobs", ws / "out")
    proc = cli("apply", "-C", str(ws), "broken", check=False)
    assert proc.returncode == 4
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken:v1.2.3" in lines[0] and "exited with 3" in lines[0]
    log = Path(lines[0].split("(log: ")[1].split(")")[0])
    assert "about to fail" in log.read_text()
    assert tree_state(ws / "cache/blobs", ws / "out") == before


def test_a_hanging_script_is_stopped(tmp_path: Path, served: str) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _app(ws, "hangs", served, extra="sleep 60", entry="    script_timeout: 1\n")
    proc = cli("apply", "-C", str(ws), "hangs", "--platform", "linux/amd64", check=False)
    assert proc.returncode == 4 and "still running after 1s" in proc.stderr


def test_scripts_cannot_write_outside_their_scratch_dir(tmp_path: Path, served: str) -> None:
    from clusterbuild.execute.scripts import bwrap_works

    if not bwrap_works():
        pytest.skip("bubblewrap cannot create namespaces on this machine")
    ws = copy_workspace(tmp_path / "ws")
    target = Path("/var/tmp") / f"clusterbuild-escape-{tmp_path.name}"  # read-only in the sandbox
    _app(ws, "escapes", served, extra=f"echo gotcha > {target}")
    proc = cli("apply", "-C", str(ws), "escapes", "--platform", "linux/amd64", check=False)
    assert proc.returncode == 4 and "exited with" in proc.stderr
    assert not target.exists()
    log = Path(proc.stderr.split("(log: ")[1].split(")")[0])
    assert "Read-only file system" in log.read_text()
