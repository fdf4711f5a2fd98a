"""Nothing lost, nothing leaked: init.sh sees none of the user's secrets, a run without a
sandbox is refused (or warned about), and SIGINT/SIGTERM stop everything with the right
exit code, leaving nothing the next run does not clean up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, cli, copy_workspace, image_files

SECRET = "s3cr3t-registry-password"

SNOOP = """\
#!/bin/bash
mkdir -p manifests
{{
  echo "--- docker config"; cat {docker_config} 2>&1
  echo "--- own auth"; cat {own_auth} 2>&1
  echo "--- environ"; cat /proc/*/environ 2>&1 | tr '\\0' '\\n'
  echo "--- env"; env
  echo "--- processes"; cat /proc/[0-9]*/cmdline | tr '\0' ' '
}} > manifests/snoop.txt
echo hacked > {outside} 2>/dev/null || true
cat > Kubefile <<EOF
FROM scratch
COPY . .
CMD ["kubectl apply -f manifests"]
EOF
"""


def _home_with_secrets(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    (home / ".docker/config.json").write_text(json.dumps({"auths": {"r.io": {"auth": SECRET}}}))
    (home / ".config/clusterbuild").mkdir(parents=True)
    (home / ".config/clusterbuild/auth.json").write_text(json.dumps({"auths": {"x": SECRET}}))
    return home


def _snooping_app(ws: Path, home: Path, outside: Path) -> None:
    app = ws / "applications/snoop/latest"
    app.mkdir(parents=True)
    (app / "init.sh").write_text(SNOOP.format(docker_config=home / ".docker/config.json",
                                              own_auth=home / ".config/clusterbuild/auth.json",
                                              outside=outside))
    text = (ws / "apps.yaml").read_text()
    (ws / "apps.yaml").write_text(text + "  snoop:\n    versions: [v1]\n    platforms: [linux/amd64]\n")


def test_init_sh_reads_no_secret_and_writes_nowhere_else(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    home = _home_with_secrets(tmp_path)
    outside = ws / "applications/snoop/pwned"
    _snooping_app(ws, home, outside)
    env = {"HOME": str(home), "REGISTRY_PASSWORD": SECRET, "XDG_CONFIG_HOME": str(home / ".config")}
    proc = cli("apply", "-C", str(ws), "snoop", "--json", env=env)
    assert "warning" not in proc.stderr
    files = image_files(ws / "out", "docker.io/labring/snoop:v1-amd64", tmp_path / "image")
    snooped = files["manifests/snoop.txt"].decode()
    assert "--- docker config" in snooped and "No such file or directory" in snooped
    assert SECRET not in snooped
    processes = snooped.rsplit("--- processes", 1)[1]
    assert "init.sh" in processes and "python" not in processes  # clusterbuild is out of sight
    assert not outside.exists()
    assert not any(SECRET.encode() in data for data in files.values())


def test_without_a_sandbox_legacy_builds_refuse_or_warn(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    home = _home_with_secrets(tmp_path)
    _snooping_app(ws, home, tmp_path / "outside")
    env = {"CLUSTERBUILD_BWRAP": str(tmp_path / "no-bwrap-here"), "HOME": str(home)}
    proc = cli("apply", "-C", str(ws), check=False, env=env)
    assert proc.returncode == 4
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert "snoop:v1 [linux/amd64]: init.sh runs only in a bubblewrap sandbox" in errors[0]
    assert "sandbox: false" in errors[0] and "apt-get install bubblewrap" in errors[0]
    assert "hello-tools:v1.0.0" in proc.stdout  # the other apps were built

    proc = cli("apply", "-C", str(ws), "snoop", "--unsandboxed", env=env)
    assert "warning: snoop:v1 [linux/amd64]: init.sh ran without a sandbox" in proc.stderr


def _apply_in_background(ws: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "clusterbuild", "apply", "-C", str(ws), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _hanging_app(ws: Path, marker: Path) -> None:
    app = ws / "applications/hangs/latest"
    app.mkdir(parents=True)
    (app / "init.sh").write_text(f"#!/bin/bash\necho started > {marker}\nsleep 300\n")
    text = (ws / "apps.yaml").read_text()
    (ws / "apps.yaml").write_text(text + "  hangs:\n    versions: [v1]\n    platforms: [linux/amd64]\n"
                                  "    script_timeout: 600\n")


def _sleepers() -> list[int]:
    found = subprocess.run(["pgrep", "-f", "sleep 300"], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


@pytest.mark.parametrize(("sig", "code", "message"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "terminated")])
def test_a_signal_stops_apply_and_its_children(tmp_path: Path, sig: signal.Signals, code: int,
                                               message: str) -> None:
    ws = copy_workspace(tmp_path / "ws")
    marker = tmp_path / "started"
    _hanging_app(ws, marker)
    before = set(_sleepers())
    proc = _apply_in_background(ws, "hangs", "--unsandboxed")  # the child is a plain bash
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code and message in err
    time.sleep(0.3)
    assert set(_sleepers()) - before == set(), "init.sh's child outlived clusterbuild"
    scratch = ws / "cache/scratch"
    cli("apply", "-C", str(ws), "hello-tools")  # the next apply removes what the dead run left
    assert not scratch.exists() or list(scratch.iterdir()) == []


def test_the_next_apply_removes_temp_files_of_a_killed_run(workspace: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftovers = [workspace / f"out/archives/.x.tar.{dead.pid}.tmp",
                 workspace / f"out/blobs/sha256/.{'a' * 64}.{dead.pid}.1.tmp",
                 workspace / f"cache/scratch/{'b' * 16}.{dead.pid}/app/init.sh",
                 workspace / f"cache/tmp/{dead.pid}.xyz"]
    alive = workspace / f"out/archives/.y.tar.{os.getpid()}.tmp"
    for path in [*leftovers, alive]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("partial")
    cli("apply", "-C", str(workspace))
    assert [p for p in leftovers if p.exists()] == []
    assert not (workspace / f"cache/scratch/{'b' * 16}.{dead.pid}").exists()
    assert alive.exists()  # a live process's temp file is never touched


def test_install_script_installs_bubblewrap() -> None:
    assert "bwrap:bubblewrap" in (REPO / "scripts/install.sh").read_text()
