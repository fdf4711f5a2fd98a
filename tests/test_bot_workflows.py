"""The GitHub workflows shipped in .github/workflows: valid YAML with the triggers, cache and
options the docs promise, no event data interpolated into scripts, and the build
workflow's own scripts run for real: plan → matrix → one build per platform → index."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from conftest import REPO, cli, copy_workspace

WORKFLOWS = REPO / ".github/workflows"


def workflow(name: str) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in document:  # YAML 1.1 reads the key `on` as a boolean
        document["on"] = document.pop(True)
    return document


def steps(document: dict[str, Any], job: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["jobs"][job]["steps"]
    return found


def step(document: dict[str, Any], job: str, pattern: str) -> dict[str, Any]:
    return next(s for s in steps(document, job) if re.search(pattern, s.get("name", s.get("uses", ""))))


def test_scripts_never_interpolate_expressions() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for job in workflow(path.name)["jobs"].values():
            for item in job["steps"]:
                assert "${{" not in item.get("run", ""), f"{path.name}: {item.get('name')}"


def test_bot_workflow_runs_the_bot_on_comments_and_the_accepted_label() -> None:
    bot = workflow("bot.yml")
    assert bot["on"] == {"issue_comment": {"types": ["created"]}, "issues": {"types": ["labeled"]}}
    assert bot["permissions"] == {"contents": "read", "issues": "write"}
    job = bot["jobs"]["command"]
    assert "github.event.label.name == 'accepted'" in job["if"]
    run = step(bot, "command", "Run the command")
    assert run["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert run["env"]["CLUSTERBUILD_BOT_ROBOTS"] == "${{ vars.CLUSTERBUILD_BOT_ROBOTS }}"
    assert "clusterbuild bot" in run["run"] and "--sync-to" in run["run"]
    assert "hashFiles('apps.lock')" in step(bot, "command", "step cache")["with"]["key"]


def test_build_workflow_shape() -> None:
    build = workflow("build.yml")
    assert build["on"]["push"] == {"branches": ["main"]}
    jobs = build["jobs"]
    assert jobs["build"]["needs"] == "plan" and jobs["index"]["needs"] == ["plan", "build"]
    assert jobs["build"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert "clusterbuild plan --json" in step(build, "plan", "matrix")["run"]
    for job in ("build", "index"):
        cache = step(build, job, "step cache")
        assert cache["uses"].startswith("actions/cache@") and cache["with"]["path"] == "cache"
        assert "hashFiles('apps.lock')" in cache["with"]["key"]
        assert "--frozen" in step(build, job, "[Pp]ush")["run"]
    assert '--platform "$PLATFORM"' in step(build, "build", "Build and push")["run"]


def _run(script: str, cwd: Path, **env: str) -> None:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "PATH": path, "SOURCE_DATE_EPOCH": "0", **env})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_build_workflow_scripts_plan_build_per_platform_and_push_the_index(
        tmp_path: Path, registry: str) -> None:
    build = workflow("build.yml")
    ws = copy_workspace(tmp_path / "ws")
    with (ws / "apps.yaml").open("a") as apps:
        apps.write(f"registries:\n  insecure: [\"{registry}\"]\n")
    outputs = tmp_path / "outputs"
    _run(step(build, "plan", "matrix")["run"], ws, GITHUB_OUTPUT=str(outputs))
    matrix = json.loads(_outputs(outputs)["matrix"])
    assert matrix == {"include": [{"platform": "linux/amd64", "name": "linux-amd64"},
                                  {"platform": "linux/arm64", "name": "linux-arm64"}]}
    prefix = f"{registry}/ci"
    for entry in matrix["include"]:  # each job on its own runner: its own copy and cache
        runner = copy_workspace(tmp_path / entry["name"])
        (runner / "apps.yaml").write_text((ws / "apps.yaml").read_text())
        _run(step(build, "build", "Build and push")["run"], runner, PUSH_TO=prefix,
             PLATFORM=entry["platform"], NAME=entry["name"])
    summary = tmp_path / "summary.md"
    key, runner_temp = tmp_path / "cosign.key", tmp_path / "runner-temp"
    runner_temp.mkdir()
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(tmp_path / "cosign.pub")],
                   check=True, capture_output=True)
    _run(step(build, "index", "index")["run"], ws, PUSH_TO=prefix, GITHUB_STEP_SUMMARY=str(summary),
         SIGN_KEY=key.read_text().strip(), RUNNER_TEMP=str(runner_temp))
    assert (runner_temp / "cosign.key").stat().st_mode & 0o077 == 0
    verified = cli("verify", f"{prefix}/hello-tools:v1.0.0", "--key", str(tmp_path / "cosign.pub"),
                   "--insecure-registry", registry, check=False)
    assert verified.returncode == 0, verified.stderr
    pushed = {i["ref"]: i["digest"] for i in json.loads((ws / "apply-index.json").read_text())["images"]}
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{prefix}/hello-tools:v1.0.0"], check=True,
                         capture_output=True, timeout=60).stdout
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == pushed["docker.io/labring/hello-tools:v1.0.0"]
    assert len(json.loads(raw)["manifests"]) == 2
    assert "| image | digest |" in summary.read_text()


def test_bot_workflow_script_runs_the_bot(tmp_path: Path, registry: str) -> None:
    from github_fake import FakeGitHub, comment_event

    ws = copy_workspace(tmp_path / "ws")
    with (ws / "apps.yaml").open("a") as apps:
        apps.write(f"registries:\n  insecure: [\"{registry}\"]\n")
    with FakeGitHub() as github:
        issue = github.add_issue(6, "【Auto-build】hello-tools", ["accepted"])
        event = tmp_path / "event.json"
        event.write_text(json.dumps(comment_event(issue, "/imagebuild_apps hello-tools v1.0.0")))
        run = step(workflow("bot.yml"), "command", "Run the command")["run"]
        _run(run, ws, **github.environ(), GITHUB_EVENT_PATH=str(event),
             PUSH_TO=f"{registry}/bot-workflow", SYNC_TO="", CLUSTERBUILD_BOT_ROBOTS="")
        assert len(github.comments) == 1
        assert f"`{registry}/bot-workflow/hello-tools:v1.0.0`" in github.comments[0].body


def test_pull_requests_are_checked_and_their_new_apps_locked() -> None:
    pr = workflow("pull-request.yml")
    assert pr["on"]["pull_request"]["paths"] == ["apps.yaml", "apps.lock", "applications/**"]
    assert pr["permissions"] == {"contents": "write"}
    runs = [s.get("run", "") for s in steps(pr, "check-and-lock")]
    assert runs.index("clusterbuild check") < runs.index("clusterbuild lock")
    commit = step(pr, "check-and-lock", "Commit apps.lock")
    assert commit["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert "git push" in commit["run"] and "git diff --quiet -- apps.lock" in commit["run"]
    assert step(pr, "check-and-lock", "Keep apps.lock")["with"]["path"] == "apps.lock"


def test_issue_templates_tips_and_scheduled_sync() -> None:
    folder = REPO / ".github/ISSUE_TEMPLATE"
    templates = {p.name: yaml.safe_load(p.read_text()) for p in folder.glob("*.yml")}
    assert {t["title"] for t in templates.values()} == {"【Auto-build】<app>", "【Auto-build】<name>"}
    commands = [b["attributes"].get("value", "") for t in templates.values() for b in t["body"]
                if b["type"] == "textarea"]
    assert any(c.startswith("/imagebuild_apps ") for c in commands)
    assert any(c.startswith("/imagebuild_dockerimages ") for c in commands)
    tips = workflow("tips.yml")
    assert tips["on"] == {"issues": {"types": ["opened"]}}
    assert "startsWith(github.event.issue.title, '【Auto-build】')" in tips["jobs"]["tips"]["if"]
    assert "/imagebuild_apps <app> <version>" in steps(tips, "tips")[0]["run"]
    sync = workflow("sync.yml")
    assert "schedule" in sync["on"]
    run = step(sync, "sync", "Copy every listed image")["run"]
    assert "clusterbuild sync" in run and ".github/sync-images.txt" in run
    listed = [line for line in (REPO / ".github/sync-images.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    from clusterbuild.oci.reference import Reference

    assert listed and all(Reference.parse(image) for image in listed)
