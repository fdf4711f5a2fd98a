"""The bot doing the work: builds pushed to a real docker-registry, /imagesync, buildah for
dockerimages, failures — each with exactly one comment on the local GitHub API — and the
whole path through the real command line: event file → bot → build → push → comment."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from github_fake import FakeGitHub, comment_event, labeled_event

from clusterbuild.bot.config import BotConfig
from clusterbuild.bot.decision import Decision, Outcome
from clusterbuild.bot.handle import handle_event

from conftest import cli, copy_workspace

INDEX = "v1.0.0"
TAGS = (INDEX, "v1.0.0-amd64", "v1.0.0-arm64")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


def registry_digest(ref: str) -> str:
    """The digest the registry reports for ``ref``: sha256 of the manifest it serves."""
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                         check=True, capture_output=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def settings(tmp_path: Path, registry: str, **extra: object) -> BotConfig:
    ws = copy_workspace(tmp_path / "ws")
    options: dict[str, object] = {"insecure_registries": (registry,), "jobs": 2, **extra}
    return BotConfig(workspace=ws, cache_dir=ws / "cache", **options)  # type: ignore[arg-type]


def only_comment(github: FakeGitHub, decision: Decision) -> str:
    assert [c.issue for c in github.comments] == [6], github.comments
    body = github.comments[0].body
    assert decision.reason in body
    return body


def layout_digest(layout: Path, ref: str) -> str:
    raw = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{layout}:{ref}"], check=True,
                         capture_output=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def test_accepted_label_builds_the_issue_body_command(tmp_path: Path, registry: str,
                                                      github: FakeGitHub) -> None:
    config = settings(tmp_path, registry)  # not publishing: the images stay in out/
    issue = github.add_issue(6, "【Auto-build】hello-tools", ["accepted"],
                             body="Please build it:\r\n\r\n/imagebuild_apps hello-tools v1.0.0\r\n")
    decision, _ = handle_event(config, labeled_event(issue), github.environ())
    assert (decision.outcome, decision.exit_code) == (Outcome.SUCCEEDED, 0)
    assert decision.reason == "built 3 images (not pushed: the bot runs without --push)"
    body = only_comment(github, decision)
    for tag in TAGS:
        ref = f"docker.io/labring/hello-tools:{tag}"
        assert f"| `{ref}` | `{layout_digest(config.workspace / 'out', ref)}` |" in body


def test_build_failure_posts_the_one_line_error(tmp_path: Path, registry: str,
                                                github: FakeGitHub) -> None:
    config = settings(tmp_path, registry)
    kubefile = config.workspace / "applications/hello-tools/latest/Kubefile"
    kubefile.write_text(kubefile.read_text() + "COPY no-such-file /opt/\n")
    issue = github.add_issue(6, "【Auto-build】hello-tools", ["accepted"])
    decision, _ = handle_event(config, comment_event(issue, "/imagebuild_apps hello-tools v1.0.0"),
                               github.environ())
    assert (decision.outcome, decision.exit_code) == (Outcome.FAILED, 4)
    assert "no-such-file" in decision.reason and "\n" not in decision.reason
    assert "❌ `/imagebuild_apps hello-tools v1.0.0` failed: " in only_comment(github, decision)


def test_sync_failure_posts_the_one_line_error(tmp_path: Path, registry: str,
                                               github: FakeGitHub) -> None:
    config = settings(tmp_path, registry, robots=frozenset({"sealos-ci-robot"}),
                      sync_to=f"{registry}/mirror")
    issue = github.add_issue(6, "【Auto-build】sync", ["accepted"])
    payload = comment_event(issue, f"/imagesync {registry}/absent/image:1", "sealos-ci-robot")
    decision, _ = handle_event(config, payload, github.environ())
    assert (decision.outcome, decision.exit_code) == (Outcome.FAILED, 4)
    assert f"{registry}/absent/image:1" in decision.reason and "\n" not in decision.reason
    assert "❌ `/imagesync " in only_comment(github, decision)


def test_imagesync_by_a_robot_copies_every_platform(tmp_path: Path, registry: str,
                                                    github: FakeGitHub) -> None:
    source = f"{registry}/sync-source"
    cli("apply", "-C", str(copy_workspace(tmp_path / "src")), "hello-tools", "--push-to", source,
        "--insecure-registry", registry)
    config = settings(tmp_path, registry, robots=frozenset({"sealos-ci-robot"}),
                      sync_to=f"{registry}/mirror")
    issue = github.add_issue(6, "【Auto-build】sync", ["accepted"])
    payload = comment_event(issue, f"/imagesync {source}/hello-tools:{INDEX}", "sealos-ci-robot")
    decision, _ = handle_event(config, payload, github.environ())
    assert (decision.outcome, decision.reason) == (Outcome.SUCCEEDED, "copied with every platform")
    copied = f"{registry}/mirror/hello-tools:{INDEX}"
    digest = registry_digest(copied)
    assert digest == registry_digest(f"{source}/hello-tools:{INDEX}")
    assert f"| `{copied}` | `{digest}` |" in only_comment(github, decision)


def _dockerimage(ws: Path, download: str = "") -> None:
    """dockerimages/hello-box, as the catalogue writes them: ARCH, and (with ``download``) an
    init.sh that fetches a file per arch and writes the Dockerfile that copies it."""
    context = ws / "dockerimages/hello-box/latest"
    context.mkdir(parents=True)
    (context / "hello.txt").write_text("hello\n")
    dockerfile = ("FROM scratch\nARG VERSION\nARG ARCH\nARG FLAVOUR=plain\nCOPY hello.txt /hello.txt\n"
                  + ("COPY tool /tool\n" if download else "")
                  + "LABEL version=$VERSION flavour=$FLAVOUR arch=$ARCH\n")
    if download:
        (context / "init.sh").write_text(f"#!/bin/bash\nset -e\nARCH=$1\n"
                                         f"wget -q {download}/tool-$ARCH -O tool\n"
                                         f"cat > Dockerfile <<'EOF'\n{dockerfile}EOF\n")
    else:
        (context / "Dockerfile").write_text(dockerfile)


@pytest.mark.parametrize("with_init", [False, True])
def test_dockerimages_build_every_platform_with_arch_and_a_manifest_list(
        tmp_path: Path, registry: str, github: FakeGitHub, static_server: tuple[str, Path],
        with_init: bool) -> None:
    buildah = shutil.which("buildah")
    if buildah is None:
        pytest.fail("buildah is not installed: run .ci/run or scripts/install.sh")
    url, root = static_server
    for arch in ("amd64", "arm64"):
        (root / f"tool-{arch}").write_text(f"tool for {arch}\n")
    storage = tmp_path / "buildah"
    config = settings(tmp_path, registry, push_to=f"{registry}/docker", buildah=(
        buildah, "--root", str(storage / "root"), "--runroot", str(storage / "run")))
    _dockerimage(config.workspace, url if with_init else "")
    issue = github.add_issue(6, "【Auto-build】hello-box", ["accepted"])
    payload = comment_event(issue, "/imagebuild_dockerimages hello-box v2 FLAVOUR=extra-1.0,MODE=fast")
    environ = github.environ(GITHUB_SERVER_URL="https://github.com", GITHUB_RUN_ID="4242")
    decision, _ = handle_event(config, payload, environ)
    assert (decision.outcome, decision.reason) == (Outcome.SUCCEEDED, "built and pushed 3 images"), \
        decision.reason
    ref = f"{registry}/docker/hello-box:v2"
    body = only_comment(github, decision)
    assert f"| `{ref}` | `{registry_digest(ref)}` |" in body
    assert f"https://github.com/{github.repository}/actions/runs/4242" in body
    listed = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                                       check=True, capture_output=True, timeout=60).stdout)
    assert sorted(m["platform"]["architecture"] for m in listed["manifests"]) == ["amd64", "arm64"]
    for arch in ("amd64", "arm64"):
        config_blob = json.loads(subprocess.run(
            ["skopeo", "inspect", "--config", "--tls-verify=false", f"docker://{ref}-{arch}"],
            check=True, capture_output=True, timeout=60).stdout)
        labels = config_blob["config"]["Labels"]
        assert (labels["version"], labels["flavour"], labels["arch"]) == ("v2", "extra-1.0", arch)
        assert config_blob["architecture"] == arch


def test_dockerimages_without_buildah_fail_clearly(tmp_path: Path, github: FakeGitHub) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _dockerimage(ws)
    issue = github.add_issue(6, "【Auto-build】hello-box", ["accepted"])
    event = tmp_path / "event.json"
    event.write_text(json.dumps(comment_event(issue, "/imagebuild_dockerimages hello-box v2")))
    proc = cli("bot", "--event", str(event), "-C", str(ws), check=False,
               env={**github.environ(), "PATH": str(tmp_path / "empty")})
    assert proc.returncode == 4, proc.stderr
    reason = json.loads(proc.stdout)["reason"]
    assert reason.startswith("buildah is not installed: /imagebuild_dockerimages runs the "
                             "Dockerfile's RUN steps")
    assert [reason in c.body for c in github.comments] == [True]


def test_end_to_end_event_file_to_registry_digest_in_the_comment(
        tmp_path: Path, registry: str, github: FakeGitHub) -> None:
    ws = copy_workspace(tmp_path / "ws")
    issue = github.add_issue(6, "【Auto-build】hello-tools", ["accepted"])
    event, outputs = tmp_path / "event.json", tmp_path / "github_output"
    event.write_text(json.dumps(comment_event(issue, "/imagebuild_apps hello-tools v1.0.0")))
    prefix = f"{registry}/e2e"
    proc = cli("bot", "-C", str(ws), "--push-to", prefix, "--insecure-registry", registry,
               env={**github.environ(), "GITHUB_EVENT_PATH": str(event),
                    "GITHUB_OUTPUT": str(outputs)})
    index = f"{prefix}/hello-tools:{INDEX}"
    digest = registry_digest(index)
    assert [c.issue for c in github.comments] == [6]
    assert f"| `{index}` | `{digest}` |" in github.comments[0].body
    document = json.loads(proc.stdout)
    assert document["outcome"] == "succeeded" and document["comment"]["posted"] is True
    assert document["images"][0] == {"ref": index, "digest": digest}
    assert "bot: issue #6: succeeded: built and pushed 3 images" in proc.stderr
    text = outputs.read_text()
    assert "outcome<<EOF_" in text and "\nsucceeded\n" in text and digest in text


def test_a_failing_init_sh_is_quoted_in_the_comment(tmp_path: Path, registry: str,
                                                    github: FakeGitHub) -> None:
    config = settings(tmp_path, registry)
    app = config.workspace / "applications/broken/latest"
    app.mkdir(parents=True)
    (app / "init.sh").write_text("#!/bin/bash\necho 'downloading the chart'\n"
                                 "echo 'curl: (22) 404 Not Found' >&2\nexit 22\n")
    apps_yaml = config.workspace / "apps.yaml"
    apps_yaml.write_text(apps_yaml.read_text() + "  broken:\n    versions: [v1]\n")
    issue = github.add_issue(6, "【Auto-build】broken", ["accepted"])
    decision, _ = handle_event(config, comment_event(issue, "/imagebuild_apps broken v1"), github.environ())
    assert decision.outcome is Outcome.FAILED and "init.sh exited with 22" in decision.reason
    body = only_comment(github, decision)
    assert "<summary>the last 2 lines of the log</summary>" in body
    assert "curl: (22) 404 Not Found" in body
