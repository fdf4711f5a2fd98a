"""A repeated no-op ``apply --json`` / ``plan --json`` is answered from its record of file
stats (``cache.noop_records``), and anything that could change the answer runs normally."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clusterbuild.cache import noop_records
from tests.conftest import cli

ANSWERED = "answered from the no-op record"


def apply(ws: Path, *args: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    proc = cli("--debug", "apply", "-C", str(ws), "--json", *args, env=env)
    return json.loads(proc.stdout), proc.stderr


def settled(ws: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Apply until a run is answered from the record (the first no-op records it)."""
    for _ in range(3):
        result, stderr = apply(ws, *args, env=env)
        if ANSWERED in stderr:
            assert result["ran"] == []
            return result
    raise AssertionError(f"no run was answered from a record: {stderr}")


def without_seconds(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "seconds"}


def test_a_repeated_no_op_is_answered_with_what_the_run_said(workspace: Path) -> None:
    off = {noop_records.OFF_ENV: "1"}
    cold, _ = apply(workspace, env=off)
    assert cold["ran"]
    recorded, stderr = apply(workspace)
    assert recorded["ran"] == [] and ANSWERED not in stderr
    answered = settled(workspace)
    assert without_seconds(answered) == without_seconds(recorded)
    plans = [cli("--debug", "plan", "-C", str(workspace), "--json") for _ in range(3)]
    assert ANSWERED in plans[-1].stderr and ANSWERED not in plans[0].stderr
    assert json.loads(plans[-1].stdout) == json.loads(plans[0].stdout)
    assert json.loads(plans[0].stdout)["summary"]["stale"] == 0


def _manifest(ws: Path) -> Path:
    return next(p for p in sorted((ws / "applications").rglob("*.yaml")) if "manifests" in p.parts)


def _edit_in_place(ws: Path) -> None:
    """Same size, same mtime: only the ctime tells."""
    path = _manifest(ws)
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-2] = ord("x") if data[-2] != ord("x") else ord("y")
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _add_file(ws: Path) -> None:
    (_manifest(ws).parent / "extra.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n"
                                                     "metadata: {name: extra}\n")


def _remove_layout_blob(ws: Path) -> None:
    blobs = sorted((ws / "out" / "blobs" / "sha256").iterdir())
    blobs[-1].unlink()


@pytest.mark.parametrize("change", [_edit_in_place, _add_file, _remove_layout_blob])
def test_a_changed_workspace_or_layout_runs_again(workspace: Path, change: Any) -> None:
    apply(workspace)
    before = settled(workspace)
    change(workspace)
    result, stderr = apply(workspace)
    assert ANSWERED not in stderr
    assert result["ran"], "the change must be built"
    if change is _remove_layout_blob:
        assert result["images"] == before["images"]  # repaired, the same images
    else:
        assert result["images"] != before["images"]


def test_another_environment_runs_again(workspace: Path) -> None:
    apply(workspace)
    before = settled(workspace)
    result, stderr = apply(workspace, env={"SOURCE_DATE_EPOCH": "86400"})
    assert ANSWERED not in stderr and result["images"] != before["images"]


@pytest.mark.skipif("SOURCE_DATE_EPOCH" in os.environ, reason="the commit time is used without it")
def test_a_new_commit_time_runs_again(workspace: Path) -> None:
    git = shutil.which("git")
    assert git is not None
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z", "GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z"}
    (workspace / ".gitignore").write_text("cache/\nout/\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "first"]):
        subprocess.run([git, *args], cwd=workspace, env=env, check=True)
    apply(workspace)
    before = settled(workspace)
    env.update(GIT_COMMITTER_DATE="2021-01-01T00:00:00Z", GIT_AUTHOR_DATE="2021-01-01T00:00:00Z")
    subprocess.run([git, "commit", "-q", "--amend", "--no-edit", "--date=2021-01-01T00:00:00Z"],
                   cwd=workspace, env=env, check=True)
    result, stderr = apply(workspace)
    assert ANSWERED not in stderr
    assert result["ran"] and result["images"] != before["images"]  # the images' created time moved


def test_a_held_workspace_lock_is_waited_for_not_answered(workspace: Path) -> None:
    apply(workspace)
    settled(workspace, "--lock-timeout", "0.3")
    fd = os.open(workspace / noop_records.WORKSPACE_LOCK, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = cli("--debug", "apply", "-C", str(workspace), "--json", "--lock-timeout", "0.3",
                   check=False)
    finally:
        os.close(fd)
    assert proc.returncode != 0 and "in use by another clusterbuild process" in proc.stderr
    assert "another clusterbuild holds a lock" in proc.stderr


def test_the_no_op_after_a_build_is_answered_as_a_no_op_run_answers(workspace: Path) -> None:
    cold, _ = apply(workspace)
    assert cold["ran"]
    answered, stderr = apply(workspace)
    assert ANSWERED in stderr
    real, stderr = apply(workspace, env={noop_records.OFF_ENV: "1"})
    assert ANSWERED not in stderr and real["ran"] == []
    assert without_seconds(answered) == without_seconds(real)
    assert answered["cached"] == cold["cached"] + len(cold["ran"])


def test_a_name_gone_from_the_workspace_during_a_build_is_not_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first build creates cache/ and out/ in the workspace, which moves its directory's
    mtime: accepted; a name that went away during the run (a file the run may have read)
    voids the record."""
    import time

    ws = tmp_path / "ws"
    (ws / "applications").mkdir(parents=True)
    (ws / "apps.yaml").write_text("apps: {}\n")
    (ws / "apps.lock").write_text("{}\n")
    time.sleep(0.1)
    monkeypatch.setattr(noop_records, "STARTED_NS", time.time_ns())
    noop_records.note_start(["apply", "-C", str(ws), "--json"], {})
    cache, layout = ws / "cache", ws / "out"
    for d in (cache, layout):
        d.mkdir()
    assert noop_records.snapshot(ws, cache, layout) is not None
    (ws / "apps.lock").unlink()
    assert noop_records.snapshot(ws, cache, layout) is None


def test_what_is_never_recorded_or_answered(workspace: Path) -> None:
    records = workspace / "cache" / noop_records.RECORDS_DIR
    cli("plan", "-C", str(workspace), "--json")  # stale steps (and no cache yet)
    assert not records.exists()
    off = {noop_records.OFF_ENV: "1"}
    apply(workspace, env=off)
    for _ in range(3):
        _, stderr = apply(workspace, env=off)
        assert ANSWERED not in stderr
    assert not list(records.glob("*.json")) if records.exists() else True
    cli("--debug", "apply", "-C", str(workspace))  # not --json: never recorded
    assert not list(records.glob("*.json")) if records.exists() else True


def test_a_damaged_record_runs_normally_and_is_made_again(workspace: Path) -> None:
    apply(workspace)
    settled(workspace)
    (record,) = (workspace / "cache" / noop_records.RECORDS_DIR).glob("*.json")
    record.write_bytes(b"{not json")
    result, stderr = apply(workspace)
    assert ANSWERED not in stderr and result["ran"] == []
    settled(workspace)


def test_a_file_changed_during_the_run_is_not_recorded(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    ws, cache, layout = tmp_path / "ws", tmp_path / "ws" / "cache", tmp_path / "ws" / "out"
    for d in (ws / "applications", cache, layout):
        d.mkdir(parents=True)
    (ws / "apps.yaml").write_text("apps: {}\n")
    monkeypatch.setattr(noop_records, "STARTED_NS", 0)  # the run started before every file
    assert noop_records.snapshot(ws, cache, layout) is None
    monkeypatch.setattr(noop_records, "STARTED_NS", (ws / "apps.yaml").stat().st_ctime_ns + 10**9)
    trees = noop_records.snapshot(ws, cache, layout)
    assert trees is not None
    assert {e[0] for e in trees[0][1]} == {"", "apps.yaml", "applications"}  # cache/, out/ apart


def _answered(ws: Path, command: str) -> bool:
    proc = cli("--debug", command, "-C", str(ws), "--json")
    return ANSWERED in proc.stderr


def test_plan_and_apply_in_turn_are_both_answered(workspace: Path) -> None:
    """Each run opens the SQLite index, whose -wal/-shm files come and go: that alone must not
    void the other command's record."""
    apply(workspace)
    rounds = [(_answered(workspace, "plan"), _answered(workspace, "apply")) for _ in range(3)]
    assert rounds[-1] == (True, True), rounds


def test_a_write_to_the_cache_index_is_not_answered_over(workspace: Path) -> None:
    import sqlite3

    apply(workspace)
    settled(workspace)
    db = sqlite3.connect(workspace / "cache" / noop_records.SQLITE_DIR / "cache.db")
    try:
        db.execute("PRAGMA journal_mode=wal")
        db.execute("CREATE TABLE IF NOT EXISTS other_writer (x)")
        db.execute("INSERT INTO other_writer VALUES (1)")
        db.commit()  # in the -wal file, not yet in cache.db
        assert not _answered(workspace, "apply")  # a writer that has not folded its writes in
    finally:
        db.close()  # the last connection checkpoints: cache.db changes
    assert not _answered(workspace, "plan")
