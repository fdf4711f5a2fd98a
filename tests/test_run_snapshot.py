"""The per-workspace copy of step results (``execute.records``), the layout check from the
export's record, and the commit-time lookup: what makes a no-op plan read one record, not
one per step, and never hides a missing output."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from clusterbuild.cache.results import CacheIndex
from clusterbuild.workspace.commit_time import commit_times

from conftest import apply_json, cli


def _plan(ws: Path) -> dict[str, object]:
    result: dict[str, object] = json.loads(cli("plan", "-C", str(ws), "--json").stdout)
    return result


def _statuses(plan: dict[str, object]) -> dict[str, str]:
    steps = plan["steps"]
    assert isinstance(steps, list)
    return {s["key"]: s["status"] for s in steps}


def test_a_no_op_plan_is_answered_from_the_last_applys_results(workspace: Path) -> None:
    apply_json(workspace)
    index = CacheIndex(workspace / "cache")
    kept = index.get("run", str(workspace.resolve()))
    steps = list(index.names("step"))
    index.close()
    assert kept is not None and set(steps) <= set(kept)  # every result this apply used
    fresh = _statuses(_plan(workspace))
    assert fresh and set(fresh.values()) == {"fresh"}

    index = CacheIndex(workspace / "cache")  # the per-step records gone: the copy answers
    for key in steps:
        index.delete("step", key)
    index.close()
    assert _statuses(_plan(workspace)) == fresh

    digest = next(r["layer"]["digest"] for r in kept.values() if "layer" in r)  # an output
    layer = workspace / "cache/blobs/sha256" / digest.split(":")[1]  # gone: never fresh
    layer.chmod(0o644)
    layer.unlink()
    after = _statuses(_plan(workspace))
    assert "stale" in after.values()
    assert apply_json(workspace)["ran"]  # and apply rebuilds it
    assert set(_statuses(_plan(workspace)).values()) == {"fresh"}


def test_a_blob_removed_from_the_layout_makes_its_export_stale(workspace: Path) -> None:
    apply_json(workspace)
    blobs = workspace / "out/blobs/sha256"
    victim = max(blobs.iterdir(), key=lambda p: p.stat().st_size)  # a layer, not an index
    victim.unlink()
    plan = _plan(workspace)
    stale = [s for s in plan["steps"] if s["status"] == "stale"]  # type: ignore[union-attr]
    assert [s["kind"] for s in stale] and {s["kind"] for s in stale} == {"export"}
    apply_json(workspace)
    assert victim.exists()


def test_cache_gc_drops_the_copies_with_the_records(workspace: Path) -> None:
    apply_json(workspace)
    manifest = workspace / "applications/hello-tools/latest/manifests/configmap.yaml"
    manifest.write_text(manifest.read_text() + "  extra: value\n")
    apply_json(workspace)
    cli("cache", "gc", "-C", str(workspace))
    index = CacheIndex(workspace / "cache")
    assert list(index.names("run")) == []
    index.close()
    assert set(_statuses(_plan(workspace)).values()) == {"fresh"}
    assert apply_json(workspace)["ran"] == []


def test_commit_times_finds_each_directorys_last_commit(tmp_path: Path) -> None:
    def git(*args: str, when: int = 0) -> None:
        env = {**os.environ, "GIT_AUTHOR_DATE": f"@{when} +0000", "GIT_COMMITTER_DATE": f"@{when} +0000",
               "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
               "GIT_COMMITTER_EMAIL": "t@t"}
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, env=env, capture_output=True)

    git("init", "-q")
    dirs = [tmp_path / "applications" / name / "latest" for name in ("a", "ab", "b")]
    for n, d in enumerate(dirs):
        (d / "manifests").mkdir(parents=True)
        (d / "manifests" / "m.yaml").write_text(f"n: {n}\n")
        git("add", ".")
        git("commit", "-qm", str(n), when=1_000_000 + n)
    (dirs[0] / "Kubefile").write_text("FROM scratch\n")  # a: changed last, at the top level
    git("add", ".")
    git("commit", "-qm", "later", when=2_000_000)
    never = tmp_path / "applications" / "c"  # git never saw it
    never.mkdir()
    found = commit_times(tmp_path, [*dirs, never])
    assert found == {dirs[0]: 2_000_000, dirs[1]: 1_000_001, dirs[2]: 1_000_002}
