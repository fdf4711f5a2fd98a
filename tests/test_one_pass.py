"""Apply in one pass: each chart rendered once, locks between processes, keep going past a
broken app, one options reader (sync honours apps.yaml), moved workspaces stay fresh."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import apply_json, cli, copy_workspace, images

CHART_APP = "applications/hello-chart/latest"


def _discover_chart(ws: Path) -> None:
    """hello-chart scanned for real (full mode renders it with its defaults and with the
    Kubefile's --set), shipping none of the images it finds, so no registry is needed."""
    (ws / CHART_APP / "clusterbuild.yaml").write_text(
        "images:\n  discover: full\n  exclude: ['*']\n")


def _add_apps(ws: Path, names: list[str]) -> None:
    """Small apps of one manifest each."""
    text = (ws / "apps.yaml").read_text()
    for name in names:
        app = ws / "applications" / name / "latest"
        (app / "manifests").mkdir(parents=True)
        (app / "manifests/cm.yaml").write_text(f"kind: ConfigMap\nmetadata:\n  name: {name}\n")
        (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"kubectl apply -f manifests\"]\n")
        text += f"  {name}:\n    versions: [\"v1\"]\n"
    (ws / "apps.yaml").write_text(text)


def _stderr_renders(proc: subprocess.CompletedProcess[str]) -> int:
    line = next(x for x in proc.stderr.splitlines() if "chart render" in x)
    return int(line.split(", ")[1].split()[0])


def test_cold_apply_renders_each_chart_once_and_later_scans_render_nothing(workspace: Path) -> None:
    _discover_chart(workspace)
    cold = apply_json(workspace)
    assert cold["renders"] == 2  # the chart's defaults and the HELM_OPTS --set values: once each
    assert _stderr_renders(cli("images", "-C", str(workspace))) == 0
    assert json.loads(cli("plan", "-C", str(workspace), "--json").stdout)["renders"] == 0

    fresh = copy_workspace(workspace.parent / "fresh")
    _discover_chart(fresh)
    assert _stderr_renders(cli("images", "-C", str(fresh))) == 2  # images records what it scans
    assert _stderr_renders(cli("images", "-C", str(fresh))) == 0
    assert apply_json(fresh)["renders"] == 0  # and apply uses it


def test_a_broken_app_is_reported_and_the_others_build(workspace: Path) -> None:
    (workspace / "applications/hello-chart/latest/Kubefile").unlink()
    proc = cli("apply", "-C", str(workspace), "--json", check=False)
    assert proc.returncode == 3
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: hello-chart:v0.1.0: ")
    assert "Kubefile" in errors[0]
    result = json.loads(proc.stdout)
    assert set(images(result)) == {f"docker.io/labring/hello-tools:v1.0.0{s}"
                                   for s in ("", "-amd64", "-arm64")}
    assert [f["what"] for f in result["failures"]] == ["hello-chart:v0.1.0"]
    plan = cli("plan", "-C", str(workspace), check=False)
    assert plan.returncode == 3 and "failed   hello-chart:v0.1.0" in plan.stdout
    assert "hello-tools:v1.0.0" in plan.stdout


def test_fail_fast_stops_at_the_first_broken_app(workspace: Path) -> None:
    (workspace / "applications/hello-chart/latest/Kubefile").unlink()
    proc = cli("apply", "-C", str(workspace), "--fail-fast", check=False)
    assert proc.returncode == 3 and "Kubefile" in proc.stderr
    assert not (workspace / "out/index.json").exists()


def test_a_failed_step_stops_only_its_app(workspace: Path) -> None:
    """One app's docker-archive cannot be written (a directory holds its path): that export
    fails, and every other step still runs."""
    blocker = workspace / "out/archives/hello-chart-v0.1.0-amd64.docker.tar"
    blocker.mkdir(parents=True)
    proc = cli("apply", "-C", str(workspace), "--docker-archive", "--json", check=False)
    assert proc.returncode == 4
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: hello-chart:v0.1.0 [")
    result = json.loads(proc.stdout)
    assert {r["kind"] for r in result["ran"] if r["app"] == "hello-chart"} == {"layer", "image", "index"}
    assert set(images(result)) == {f"docker.io/labring/hello-tools:v1.0.0{s}"
                                   for s in ("", "-amd64", "-arm64")}
    assert (workspace / "out/archives/hello-tools-v1.0.0-arm64.docker.tar").is_file()
    blocker.rmdir()
    rerun = apply_json(workspace, "--docker-archive")
    assert [r["kind"] for r in rerun["ran"]] == ["export"]


def test_two_applies_on_one_workspace_keep_every_ref(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    first, second = [f"a{i:02d}" for i in range(12)], [f"b{i:02d}" for i in range(12)]
    _add_apps(ws, first + second)
    procs = [subprocess.Popen([sys.executable, "-m", "clusterbuild", "apply", "-C", str(ws), *names],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for names in (first, second)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    index = json.loads((ws / "out/index.json").read_text())
    refs = {m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]}
    wanted = {f"docker.io/labring/{n}:v1{s}" for n in first + second for s in ("", "-amd64", "-arm64")}
    assert wanted <= refs
    for name in (first[0], second[-1]):
        inspected = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{ws / 'out'}:docker.io/labring/"
                                    f"{name}:v1"], capture_output=True, text=True)
        assert inspected.returncode == 0, inspected.stderr
        assert len(json.loads(inspected.stdout)["manifests"]) == 2


def test_a_held_workspace_makes_apply_wait_or_give_up(workspace: Path) -> None:
    lock_path = workspace / ".clusterbuild.lock"
    with open(lock_path, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = cli("apply", "-C", str(workspace), "--lock-timeout", "0.5", check=False)
        assert proc.returncode == 4
        assert "in use by another clusterbuild process" in proc.stderr
        assert "waiting for the workspace" in proc.stderr
        waiting = subprocess.Popen([sys.executable, "-m", "clusterbuild", "apply", "-C", str(workspace)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert waiting.poll() is None  # still waiting
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0 and "waiting for the workspace" in err
    assert "hello-tools:v1.0.0" in out


def test_apply_succeeds_while_cache_gc_loops(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _add_apps(ws, [f"c{i:02d}" for i in range(8)])
    stop = threading.Event()
    gc_runs: list[int] = []

    def collect() -> None:
        while not stop.is_set():
            gc_runs.append(cli("cache", "gc", "-C", str(ws), check=False).returncode)

    thread = threading.Thread(target=collect)
    thread.start()
    try:
        manifest = ws / "applications/c00/latest/manifests/cm.yaml"
        for round_ in range(5):
            manifest.write_text(f"kind: ConfigMap\ndata:\n  round: '{round_}'\n")
            result = apply_json(ws)  # fails the test if apply exits non-zero
            assert len(images(result)) == 30
    finally:
        stop.set()
        thread.join()
    assert gc_runs and set(gc_runs) == {0}
    assert apply_json(ws)["ran"] == []


def test_gc_in_one_workspace_keeps_what_another_sharing_the_cache_needs(tmp_path: Path) -> None:
    cache = tmp_path / "shared-cache"
    one, other = copy_workspace(tmp_path / "one"), copy_workspace(tmp_path / "other")
    _add_apps(other, ["only-other"])
    apply_json(one, cache=cache)
    apply_json(other, cache=cache)
    report = cli("cache", "gc", "-C", str(one), "--cache-dir", str(cache)).stdout
    assert "for 2 workspaces" in report
    assert apply_json(other, cache=cache)["ran"] == []

    shutil.rmtree(other)  # gone: its needs are kept for --keep-days, then collected
    cli("cache", "gc", "-C", str(one), "--cache-dir", str(cache))
    gone = cli("cache", "gc", "-C", str(one), "--cache-dir", str(cache), "--keep-days", "0").stdout
    assert "for 1 workspace" in gone and not gone.startswith("removed 0 blobs")
    assert apply_json(one, cache=cache)["ran"] == []


def test_a_moved_workspace_is_fresh(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _discover_chart(ws)
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text().replace(
        "  layout: out\n", "  layout: out\n  archive: true\n  docker_archive: true\n"))
    built = images(apply_json(ws))
    moved = tmp_path / "elsewhere" / "ws"
    moved.parent.mkdir()
    ws.rename(moved)
    plan = json.loads(cli("plan", "-C", str(moved), "--json").stdout)
    assert plan["summary"]["stale"] == 0, [s for s in plan["steps"] if s["status"] == "stale"]
    again = apply_json(moved)
    assert again["ran"] == [] and images(again) == built


def test_an_undecodable_record_is_a_warning_and_a_rebuild(workspace: Path) -> None:
    from clusterbuild.cache.results import CacheIndex
    from clusterbuild.execute.records import SNAPSHOT

    first = apply_json(workspace)
    index = CacheIndex(workspace / "cache")
    slot = "index/hello-tools/v1.0.0/-/0"
    key = index.get("slot", slot)["key"]  # type: ignore[index]
    nonsense = {"index": {"mediaType": 7}, "blobs": ["nonsense"]}
    index.put("step", key, nonsense)
    snapshot = index.get(SNAPSHOT, str(workspace.resolve()))  # the run's copy of the records it used
    assert isinstance(snapshot, dict) and key in snapshot
    index.put(SNAPSHOT, str(workspace.resolve()), {**snapshot, key: nonsense})
    index.close()
    proc = cli("apply", "-C", str(workspace), "--json")
    assert "warning: index hello-tools:v1.0.0" in proc.stderr and "does not decode" in proc.stderr
    again = json.loads(proc.stdout)
    assert [r["slot"] for r in again["ran"]] == [slot]
    assert images(again) == images(first)


def test_sync_reads_insecure_registries_from_apps_yaml(workspace: Path, registry: str) -> None:
    apply_json(workspace, "--push-to", f"{registry}/one-pass", "--insecure-registry", registry)
    source, target = f"{registry}/one-pass/hello-tools:v1.0.0", f"{registry}/synced/hello-tools:v1"
    refused = cli("sync", source, target, "-C", str(workspace), check=False)
    assert refused.returncode != 0  # https to a plain-HTTP registry
    text = (workspace / "apps.yaml").read_text()
    insecure = f"registries:\n  insecure: ['{registry}']\napps:\n"
    (workspace / "apps.yaml").write_text(text.replace("apps:\n", insecure))
    out = cli("sync", source, target, "-C", str(workspace)).stdout
    assert out.startswith(target) and "sha256:" in out


def test_global_workspace_option_and_debug_exit_codes(workspace: Path) -> None:
    assert "hello-tools:v1.0.0" in cli("-C", str(workspace), "plan").stdout
    (workspace / "apps.yaml").write_text("registry: docker.io/x\napps: {bad name: {versions: [v1]}}\n")
    proc = cli("--debug", "-C", str(workspace), "plan", check=False)
    assert proc.returncode == 3 and "Traceback" in proc.stderr


def test_a_profile_that_does_not_render_is_a_warning_and_the_defaults_ship(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    app = ws / "applications/web/latest"
    shutil.copytree(Path(__file__).parent / "data/discover/app/charts", app / "charts")
    (app / "Kubefile").write_text("FROM scratch\nCOPY charts charts\nCOPY registry registry\n"
                                  "CMD [\"helm upgrade -i web charts/web\"]\n")
    (app / "clusterbuild.yaml").write_text(
        "images:\n  profiles:\n    no-worker-image: {worker: {enabled: true, image: null}}\n")
    (ws / "apps.yaml").write_text("registry: docker.io/x\napps:\n  web:\n    versions: [v1]\n")
    proc = cli("images", "-C", str(ws))
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "web:v1" in warnings[0]
    assert "profile no-worker-image" in warnings[0] and "charts/web" in warnings[0]
    without = tmp_path / "plain"  # the same chart without the profile
    shutil.copytree(app.parent, without / "applications/web")
    (without / "applications/web/latest/clusterbuild.yaml").unlink()
    (without / "apps.yaml").write_text((ws / "apps.yaml").read_text())
    assert proc.stdout == cli("images", "-C", str(without)).stdout != ""
    again = cli("images", "-C", str(ws))
    assert again.stderr.count("warning: ") == 1  # the recorded scan keeps its warning


def test_version_and_a_platform_that_selects_nothing(workspace: Path) -> None:
    from importlib.metadata import version

    assert cli("--version").stdout.strip() == f"clusterbuild {version('clusterbuild')}"
    proc = cli("plan", "-C", str(workspace), "--platform", "linux/s390x", check=False)
    assert proc.returncode == 2
    assert "no app builds for it" in proc.stderr and "linux/amd64, linux/arm64" in proc.stderr
