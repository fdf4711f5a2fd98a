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

from conftest import REPO, apply_json, cli, copy_workspace

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
    assert bot["permissions"] == {"contents": "read", "issues": "write", "packages": "write"}
    job = bot["jobs"]["command"]
    assert "github.event.label.name == 'accepted'" in job["if"]
    run = step(bot, "command", "Run the command")
    assert run["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert run["env"]["CLUSTERBUILD_BOT_ROBOTS"] == "${{ vars.CLUSTERBUILD_BOT_ROBOTS }}"
    assert "clusterbuild bot" in run["run"] and "--sync-to" in run["run"]
    assert "hashFiles('apps.lock')" in step(bot, "command", "step cache")["with"]["key"]


# The current major version of each action the workflows use (checked against their releases).
ACTIONS = {"actions/checkout": "v7", "actions/setup-python": "v7", "actions/upload-artifact": "v7",
           "actions/download-artifact": "v8", "actions/cache": "v6",
           "pypa/gh-action-pypi-publish": "release/v1"}
SETUP = REPO / ".github/actions/clusterbuild/action.yml"


def _all_steps() -> list[tuple[str, dict[str, Any]]]:
    found = [(path.name, item) for path in sorted(WORKFLOWS.glob("*.yml"))
             for job in workflow(path.name)["jobs"].values() for item in job.get("steps", [])]
    setup = yaml.safe_load(SETUP.read_text(encoding="utf-8"))
    return found + [(SETUP.name, item) for item in setup["runs"]["steps"]]


def test_actions_are_at_their_current_major_versions() -> None:
    used = {item["uses"] for _, item in _all_steps() if "uses" in item}
    for uses in used:
        if uses.startswith("./"):
            assert (REPO / uses / "action.yml").is_file(), uses
            continue
        name, _, version = uses.partition("@")
        assert ACTIONS.get(name) == version, f"{uses}: expected {name}@{ACTIONS.get(name)}"


def test_the_setup_action_reads_inputs_only() -> None:
    """A composite action cannot read `vars` or `secrets` (GitHub refuses to load it)."""
    text = SETUP.read_text(encoding="utf-8")
    assert "vars." not in text and "secrets." not in text
    for item in yaml.safe_load(text)["runs"]["steps"]:
        assert "${{" not in item.get("run", "")


def _clusterbuild_lines(script: str) -> list[str]:
    return [line.strip() for line in script.splitlines()
            if re.match(r"\s*(\S+=\S+ )*clusterbuild ", line)]


def test_every_clusterbuild_command_line_is_one_the_cli_accepts() -> None:
    """Each `clusterbuild CMD` of a script names a command, and every --option the script
    gives it (directly or through its args array) is an option of that command."""
    import typer.main

    from clusterbuild.cli.main import app

    group: Any = typer.main.get_command(app)
    checked = 0
    for where, item in _all_steps():
        script = item.get("run", "")
        for line in _clusterbuild_lines(script):
            name = line.split("clusterbuild ", 1)[1].split()[0]
            if name.startswith("-"):
                continue  # clusterbuild --version
            assert name in group.commands, f"{where}: clusterbuild {name}"
            known = {o for param in group.commands[name].params for o in (*param.opts, *param.secondary_opts)}
            given = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", line))
            if '"${args[@]}"' in line:
                given |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", " ".join(
                    m for m in re.findall(r"args(?:\+)?=\(([^)]*)\)", script))))
            assert given <= known, f"{where}: clusterbuild {name}: {sorted(given - known)}"
            checked += 1
    assert checked >= 8, checked


def test_build_workflow_job_graph() -> None:
    build = workflow("build.yml")
    assert build["on"]["push"] == {"branches": ["main"]}
    jobs = build["jobs"]
    assert set(jobs) == {"matrix", "shard", "publish", "single"}
    assert jobs["shard"]["needs"] == "matrix" and jobs["single"]["needs"] == "matrix"
    assert jobs["publish"]["needs"] == ["matrix", "shard"]
    assert jobs["shard"]["strategy"] == {"fail-fast": False,
                                         "matrix": "${{ fromJSON(needs.matrix.outputs.matrix) }}"}
    # publish runs after failed shards too (complete app versions go out, the rest are held
    # back), never without a remote cache; single is the build without one
    assert jobs["publish"]["if"].startswith("always() && needs.matrix.result == 'success'")
    assert "needs.matrix.outputs.remote != ''" in jobs["publish"]["if"]
    assert "needs.matrix.outputs.remote != ''" in jobs["shard"]["if"]
    assert jobs["single"]["if"] == "needs.matrix.outputs.remote == ''"
    assert "clusterbuild matrix" in step(build, "matrix", "matrix")["run"]
    assert "--shard" in step(build, "shard", "Build and push")["run"]
    assert "clusterbuild publish" in step(build, "publish", "Publish")["run"]
    cache = step(build, "single", "step cache")
    assert cache["uses"].startswith("actions/cache@") and cache["with"]["path"] == "cache"
    assert "hashFiles('apps.lock')" in cache["with"]["key"]
    for job in ("matrix", "shard", "publish", "single"):
        assert any(s.get("uses") == "./.github/actions/clusterbuild" for s in steps(build, job))
        assert "--frozen" in next(s["run"] for s in steps(build, job) if "clusterbuild " in s.get("run", ""))


def _run(script: str, cwd: Path, **env: str) -> None:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "PATH": path, "SOURCE_DATE_EPOCH": "0", **env})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def _digest(ref: str) -> str:
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                         check=True, capture_output=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _runner(tmp_path: Path, name: str, registry: str) -> Path:
    """A job's runner: its own checkout and an empty cache."""
    ws = copy_workspace(tmp_path / name)
    with (ws / "apps.yaml").open("a") as apps:
        apps.write(f"registries:\n  insecure: [\"{registry}\"]\n")
    return ws


def _matrix_job(build: dict[str, Any], ws: Path, **env: str) -> dict[str, str]:
    outputs = ws / "outputs"
    _run(step(build, "matrix", "matrix")["run"], ws, GITHUB_OUTPUT=str(outputs), MAX_JOBS="3", **env)
    return _outputs(outputs)


def test_build_workflow_scripts_matrix_shards_and_publish(tmp_path: Path, registry: str) -> None:
    """The workflow's own scripts, each job on its own runner: matrix → 3 shards sharing a
    remote cache → publish gives the indexes one machine builds; the next run has nothing to do."""
    build = workflow("build.yml")
    one = {i["ref"]: i["digest"] for i in apply_json(copy_workspace(tmp_path / "one"))["images"]}
    prefix, remote = f"{registry}/wf", f"{registry}/wf-cache/steps"
    env = {"PUSH_TO": prefix, "REMOTE_CACHE": remote}
    found = _matrix_job(build, _runner(tmp_path, "matrix", registry), **env)
    assert found["remote"] == remote and found["count"] == "3", found
    include = json.loads(found["matrix"])["include"]
    assert sum(len(e["targets"].split()) for e in include) == 4  # 2 apps x 2 platforms
    for entry in include:
        _run(step(build, "shard", "Build and push")["run"], _runner(tmp_path, entry["shard"], registry),
             **env, REMOTE=found["remote"], TARGETS=entry["targets"], SHARD=entry["shard"])
    summary = tmp_path / "summary.md"
    key, runner_temp = tmp_path / "cosign.key", tmp_path / "runner-temp"
    runner_temp.mkdir()
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(tmp_path / "cosign.pub")],
                   check=True, capture_output=True)
    index = _runner(tmp_path, "publish", registry)
    _run(step(build, "publish", "Publish")["run"], index, **env, REMOTE=found["remote"],
         GITHUB_STEP_SUMMARY=str(summary), SIGN_KEY=key.read_text().strip(), RUNNER_TEMP=str(runner_temp))
    assert (runner_temp / "cosign.key").stat().st_mode & 0o077 == 0
    verified = cli("verify", f"{prefix}/hello-tools:v1.0.0", "--key", str(tmp_path / "cosign.pub"),
                   "--insecure-registry", registry, check=False)
    assert verified.returncode == 0, verified.stderr
    published = json.loads((index / "publish.json").read_text())
    assert {p["ref"] for p in published["pushed"]} == {f"{prefix}/hello-chart:v0.1.0",
                                                       f"{prefix}/hello-tools:v1.0.0"}
    for app in ("hello-chart:v0.1.0", "hello-tools:v1.0.0"):
        assert _digest(f"{prefix}/{app}") == one[f"docker.io/labring/{app}"]
        assert f"`{prefix}/{app}`" in summary.read_text()
    again = _matrix_job(build, _runner(tmp_path, "later", registry), **env)
    assert again["count"] == "0" and json.loads(again["matrix"]) == {"include": []}


def test_build_workflow_without_a_remote_cache_builds_in_one_job(tmp_path: Path, registry: str) -> None:
    build = workflow("build.yml")
    prefix = f"{registry}/wf-single"
    found = _matrix_job(build, _runner(tmp_path, "matrix", registry), PUSH_TO=prefix, REMOTE_CACHE="")
    assert found["remote"] == "" and found["count"] == "3"  # shard and publish are skipped
    ws = _runner(tmp_path, "single", registry)
    _run(step(build, "single", "Build and push")["run"], ws, PUSH_TO=prefix, REMOTE_CACHE="")
    pushed = {i["ref"]: i["digest"] for i in json.loads((ws / "apply.json").read_text())["images"]}
    assert _digest(f"{prefix}/hello-tools:v1.0.0") == pushed["docker.io/labring/hello-tools:v1.0.0"]


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
             PUSH_TO=f"{registry}/bot-workflow", SYNC_TO="", CLUSTERBUILD_BOT_ROBOTS="", REMOTE_CACHE="")
        assert len(github.comments) == 1
        assert f"`{registry}/bot-workflow/hello-tools:v1.0.0`" in github.comments[0].body


def _run_code(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "PATH": path, "SOURCE_DATE_EPOCH": "0", **env})


def test_bot_workflow_shards_an_app_build_by_platform(tmp_path: Path, registry: str) -> None:
    """With a remote cache: the command job plans (no build, no comment), one shard job per
    platform, then the publish job pushes the index and comments once with the digests; a
    run whose arm64 shard did not push leaves the index alone and says why."""
    from github_fake import FakeGitHub, comment_event

    bot = workflow("bot.yml")
    assert bot["jobs"]["shard"]["needs"] == "command"
    assert bot["jobs"]["publish"]["needs"] == ["command", "shard"]
    assert bot["jobs"]["publish"]["if"].startswith("always() && ")
    prefix, remote = f"{registry}/bot-shards", f"{registry}/bot-shards-cache/steps"
    one = {i["ref"]: i["digest"] for i in apply_json(copy_workspace(tmp_path / "one"))["images"]}
    with FakeGitHub() as github:
        issue = github.add_issue(7, "【Auto-build】hello-tools", ["accepted"])
        event = tmp_path / "event.json"
        event.write_text(json.dumps(comment_event(issue, "/imagebuild_apps hello-tools v1.0.0")))
        env = {**github.environ(), "GITHUB_EVENT_PATH": str(event), "PUSH_TO": prefix,
               "REMOTE_CACHE": remote, "SYNC_TO": "", "CLUSTERBUILD_BOT_ROBOTS": ""}
        planner = _runner(tmp_path, "command", registry)
        outputs = tmp_path / "outputs"
        _run(step(bot, "command", "Run the command")["run"], planner, **env, GITHUB_OUTPUT=str(outputs))
        found = _outputs_multiline(outputs)
        assert found["outcome"] == "sharded" and found["remote"] == remote, found
        assert github.comments == []
        include = json.loads(found["matrix"])["include"]
        assert sorted(e["targets"] for e in include) == ["hello-tools:v1.0.0@linux/amd64",
                                                         "hello-tools:v1.0.0@linux/arm64"]
        shard_script = step(bot, "shard", "Build and push")["run"]
        publish_script = step(bot, "publish", "Publish")["run"]
        amd64 = next(e for e in include if e["targets"].endswith("amd64"))
        _run(shard_script, _runner(tmp_path, "amd64", registry), **env, REMOTE=remote,
             TARGETS=amd64["targets"])
        # the arm64 shard failed: publishing holds the index back and tells the author
        proc = _run_code(publish_script, _runner(tmp_path, "publish-early", registry), **env, REMOTE=remote)
        assert proc.returncode == 4, proc.stderr
        assert len(github.comments) == 1 and "linux/arm64" in github.comments[0].body
        assert "failed" in github.comments[0].body
        missing = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                                  f"docker://{prefix}/hello-tools:v1.0.0"], capture_output=True, timeout=60)
        assert missing.returncode != 0  # no index (not even an amd64-only one)
        for entry in include:  # a rerun of the workflow: both shards
            _run(shard_script, _runner(tmp_path, entry["name"] if "name" in entry else entry["shard"],
                                       registry), **env, REMOTE=remote, TARGETS=entry["targets"])
        _run(publish_script, _runner(tmp_path, "publish", registry), **env, REMOTE=remote)
        assert len(github.comments) == 2
        body = github.comments[1].body
        index = one["docker.io/labring/hello-tools:v1.0.0"]
        assert f"| `{prefix}/hello-tools:v1.0.0` | `{index}` |" in body, body
        assert _digest(f"{prefix}/hello-tools:v1.0.0") == index
        for arch in ("amd64", "arm64"):
            assert f"`{prefix}/hello-tools:v1.0.0-{arch}`" in body


def _outputs_multiline(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT written as `key<<DELIMITER` blocks."""
    lines, values = path.read_text().splitlines(), {}
    while lines:
        key, _, delimiter = lines.pop(0).partition("<<")
        end = lines.index(delimiter)
        values[key] = "\n".join(lines[:end])
        lines = lines[end + 1:]
    return values


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
