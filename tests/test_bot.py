"""The bot's rules, driven by event payloads in GitHub's documented shape against a local
GitHub API: every refusal says why in exactly one comment, and nothing is built."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github_fake import FakeGitHub, comment_event, labeled_event

from clusterbuild.bot.config import BotConfig
from clusterbuild.bot.decision import Decision, Outcome
from clusterbuild.bot.event import BOT_MARKER
from clusterbuild.bot.handle import bot_main, handle_event

from conftest import cli, copy_workspace

TITLE = "【Auto-build】hello-tools"
COMMAND = "/imagebuild_apps hello-tools v1.0.0"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture
def config(tmp_path: Path) -> BotConfig:
    ws = copy_workspace(tmp_path / "ws")
    return BotConfig(workspace=ws, cache_dir=ws / "cache", robots=frozenset({"sealos-ci-robot"}),
                     jobs=2)


def comment(github: FakeGitHub, body: str, title: str = TITLE, labels: tuple[str, ...] = (
        "accepted",), author: str = "alice") -> dict[str, Any]:
    return comment_event(github.add_issue(6, title, list(labels)), body, author)


def decide(config: BotConfig, github: FakeGitHub, payload: dict[str, Any]) -> Decision:
    decision, feedback = handle_event(config, payload, github.environ())
    assert feedback.posted == decision.wants_comment, feedback.error
    return decision


def refused(config: BotConfig, github: FakeGitHub, payload: dict[str, Any], why: str) -> Decision:
    """The payload is refused for ``why``, in one comment, and nothing was built."""
    decision = decide(config, github, payload)
    assert (decision.outcome, decision.exit_code) == (Outcome.REFUSED, 3), decision
    assert why in decision.reason
    assert [(c.issue, c.body.splitlines()[0]) for c in github.comments] == [(6, BOT_MARKER)]
    assert why in github.comments[0].body and "refused" in github.comments[0].body
    assert not (config.workspace / "out").exists() and not (config.workspace / "cache").exists()
    return decision


@pytest.mark.parametrize(("title", "why"), [
    ("[Auto-build]hello-tools", "look-alike brackets, spaces or letter case"),
    ("\uff3bAuto-build\uff3dhello-tools", "look-alike brackets, spaces or letter case"),  # fullwidth [ ]
    ("【Auto-build] hello-tools", "look-alike brackets, spaces or letter case"),
    ("【 Auto-build】hello-tools", "look-alike brackets, spaces or letter case"),
    (" 【Auto-build】hello-tools", "look-alike brackets, spaces or letter case"),
    ("【AUTO-BUILD】hello-tools", "look-alike brackets, spaces or letter case"),
    ("【Auto-build】 hello-tools", "extra spaces"),
    ("【Auto-build】hello-tools ", "extra spaces"),
    ("【Auto-build】hello-tools v1.0.0", "no version"),
    ("【Auto-build】hello-tools:v1.0.0", "no version"),
    ("【Auto-build】hello-chart", "names another app (hello-chart)"),
    ("【Auto-build】hello-tools;id", "not a valid name"),
    ("Please build hello-tools", "does not start with 【Auto-build】"),
])
def test_title_must_be_exactly_auto_build_and_the_app(config: BotConfig, github: FakeGitHub,
                                                     title: str, why: str) -> None:
    decision = refused(config, github, comment(github, COMMAND, title=title), why)
    assert "must be exactly 【Auto-build】hello-tools" in decision.reason


def test_label_is_read_again_through_the_api(config: BotConfig, github: FakeGitHub) -> None:
    payload = comment(github, COMMAND)  # the payload still lists "accepted" ...
    github.add_issue(6, TITLE, ["question"])  # ... but the label is gone by now
    refused(config, github, payload, "does not carry the label accepted (read from the GitHub API)")
    assert ("GET", "/repos/labring/cluster-image/issues/6/labels") in github.requests


def test_issue_without_the_label_is_refused(config: BotConfig, github: FakeGitHub) -> None:
    refused(config, github, comment(github, COMMAND, labels=()), "does not carry the label accepted")


def test_labels_are_paginated(config: BotConfig, github: FakeGitHub) -> None:
    labels = [f"area-{i}" for i in range(130)] + ["accepted"]
    payload = comment(github, "/imagebuild_apps nope v1", title="【Auto-build】nope", labels=tuple(labels))
    refused(config, github, payload, "unknown app nope")  # past the label rule: page 2 was read


def test_without_a_token_the_payload_is_trusted_and_nothing_posted(config: BotConfig,
                                                                   github: FakeGitHub) -> None:
    payload = comment(github, "/imagebuild_apps nope v1", title="【Auto-build】nope")
    decision, feedback = handle_event(config, payload, {})
    assert decision.outcome is Outcome.REFUSED and "unknown app nope" in decision.reason
    assert "read from the event payload (no GITHUB_TOKEN)" in decision.notes[0]
    assert (feedback.posted, feedback.error) == (False, "no GITHUB_TOKEN")
    assert github.requests == []


def test_imagesync_only_from_robot_accounts(config: BotConfig, github: FakeGitHub) -> None:
    payload = comment(github, "/imagesync quay.io/cilium/cilium:v1.15.0", title="【Auto-build】sync",
                      author="alice")
    refused(config, github, payload, "only accepted from the configured robot accounts")


def test_imagesync_without_configured_robots(tmp_path: Path, github: FakeGitHub) -> None:
    config = BotConfig(workspace=copy_workspace(tmp_path / "ws"), cache_dir=tmp_path / "ws/cache")
    payload = comment(github, "/imagesync quay.io/cilium/cilium:v1.15.0", author="sealos-ci-robot")
    refused(config, github, payload, "none is configured")


def test_unknown_app(config: BotConfig, github: FakeGitHub) -> None:
    payload = comment(github, "/imagebuild_apps hello-tool v1", title="【Auto-build】hello-tool")
    refused(config, github, payload, "unknown app hello-tool: apps.yaml does not list it; did you "
            "mean hello-tools?")


def test_version_that_resolves_to_nothing(config: BotConfig, github: FakeGitHub) -> None:
    ws = config.workspace
    (ws / "applications/pinned/v1").mkdir(parents=True)  # no latest/: only v1 resolves
    with (ws / "apps.yaml").open("a") as apps:
        apps.write("  pinned:\n    versions: [v1]\n")
    payload = comment(github, "/imagebuild_apps pinned v2", title="【Auto-build】pinned")
    refused(config, github, payload, "pinned v2 resolves to nothing: neither applications/pinned/v2/ "
            "nor applications/pinned/latest/ exists")


@pytest.mark.parametrize(("version", "why"), [
    ("v1;rm -rf /", "takes 2 arguments, not 4"),
    ("v1;rm", "U+003B SEMICOLON"),
    ("$(id)", "U+0024 DOLLAR SIGN, U+0028 LEFT PARENTHESIS, U+0029 RIGHT PARENTHESIS"),
    ("`id`", "U+0060 GRAVE ACCENT"),
    ("v1&&id", "U+0026 AMPERSAND"),
    ("v1|id>x", "U+007C VERTICAL LINE, U+003E GREATER-THAN SIGN"),
    ("v1\u200b", "U+200B ZERO WIDTH SPACE"),
    ("..", "must start with a letter or a digit"),
    ("-rf", "must start with a letter or a digit"),
    ("v" * 129, "is 129 characters long; at most 128"),
])
def test_tokens_are_checked_and_never_repeated(config: BotConfig, github: FakeGitHub,
                                               version: str, why: str) -> None:
    decision = refused(config, github, comment(github, f"/imagebuild_apps hello-tools {version}"), why)
    assert version not in decision.reason and version not in github.comments[0].body


def test_image_reference_is_checked(config: BotConfig, github: FakeGitHub) -> None:
    payload = comment(github, "/imagesync quay.io/x/y:1$(id)", author="sealos-ci-robot")
    refused(config, github, payload, "the image reference has characters outside [A-Za-z0-9._/:@-]")


def test_build_args_are_checked(config: BotConfig, github: FakeGitHub) -> None:
    payload = comment(github, "/imagebuild_dockerimages hello-tools v1 GOPROXY=a;b")
    refused(config, github, payload, "the value of build argument GOPROXY")


def test_very_long_command_line(config: BotConfig, github: FakeGitHub) -> None:
    refused(config, github, comment(github, f"/imagebuild_apps hello-tools v{'1' * 5000}"),
            "the command line is 5030 characters long; at most 512")


def test_very_long_comment(config: BotConfig, github: FakeGitHub) -> None:
    body = f"{COMMAND}\n\n" + "Why we need it. " * 2000
    refused(config, github, comment(github, body), "a text of at most 20000 characters")


def test_two_commands_in_one_comment(config: BotConfig, github: FakeGitHub) -> None:
    body = f"{COMMAND}\nand also\n/imagesync quay.io/x/y:1\n"
    refused(config, github, comment(github, body), "one command per comment: found 2 (lines 1, 3)")


@pytest.mark.parametrize(("body", "guess"), [
    ("/imagebuild_app hello-tools v1.0.0", "/imagebuild_apps"),
    ("/ImageSync quay.io/x/y:1", "/imagesync"),
])
def test_unknown_command(config: BotConfig, github: FakeGitHub, body: str, guess: str) -> None:
    refused(config, github, comment(github, body), "unknown command on line 1; the bot knows "
            f"/imagebuild_apps, /imagebuild_dockerimages, /imagesync; did you mean {guess}?")


@pytest.mark.parametrize("body", [
    f"Last time I wrote\n```\n{COMMAND}\n```\nbut nothing happened",
    f"~~~~sh\n{COMMAND}\n~~~\n{COMMAND}\n~~~~",
    f"> {COMMAND}\n\nthat does not work",
    f"  >  {COMMAND}",
    f"Example:\n\n    {COMMAND}\n",
    f"\t{COMMAND}",
    f"<!--\n{COMMAND}\n-->",
    f"<!-- {COMMAND} -->",
    f"Thanks <!-- a hidden note\n{COMMAND}\n-->",
    f"please run `{COMMAND}`",
    f"<pre>\n{COMMAND}\n</pre>",
    f"<PRE class=\"x\">\n{COMMAND}\n</PRE>",
    f"<pre>{COMMAND}</pre>",
    f"see <code>\n{COMMAND}\n</code> above",
    "Nice tool, thanks!",
])
def test_commands_in_code_quotes_or_prose_are_ignored(config: BotConfig, github: FakeGitHub,
                                                      body: str) -> None:
    decision = decide(config, github, comment(github, body))
    assert (decision.outcome, decision.reason) == (Outcome.IGNORED, "no command in the comment")
    assert github.comments == [] and decision.exit_code == 0


def test_a_quoted_command_does_not_count_as_a_second(config: BotConfig, github: FakeGitHub) -> None:
    body = "> /imagebuild_apps hello-tools v0.9\n\n```\n/imagesync x\n```\n/imagebuild_apps nope v1"
    decision = refused(config, github, comment(github, body), "title must be exactly 【Auto-build】nope")
    assert decision.command is not None and decision.command.line == 6


@pytest.mark.parametrize("payload_of", [
    lambda issue: comment_event(issue, COMMAND, action="edited"),
    lambda issue: comment_event({**issue, "pull_request": {"url": "x"}}, COMMAND),
    lambda issue: comment_event(issue, f"{BOT_MARKER}\n{COMMAND}"),
    lambda issue: labeled_event(issue, label="good first issue"),
    lambda issue: {**labeled_event(issue), "action": "unlabeled"},
])
def test_other_events_are_ignored(config: BotConfig, github: FakeGitHub, payload_of: Any) -> None:
    payload = payload_of(github.add_issue(6, TITLE, ["accepted"], body=COMMAND))
    decision = decide(config, github, payload)
    assert decision.outcome is Outcome.IGNORED and github.comments == []


def test_label_event_reads_the_issue_body(config: BotConfig, github: FakeGitHub) -> None:
    issue = github.add_issue(6, "【Auto-build】nope", ["accepted"], body="/imagebuild_apps nope v1")
    refused(config, github, labeled_event(issue), "unknown app nope")


def test_a_comment_that_cannot_be_posted_is_reported(config: BotConfig, github: FakeGitHub,
                                                    tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    github.fail_comments = True
    event = tmp_path / "event.json"
    event.write_text(json.dumps(comment(github, "/imagebuild_apps nope v1")))
    assert bot_main(config, event, github.environ()) == 3
    out = capsys.readouterr()
    document = json.loads(out.out)
    assert document["outcome"] == "refused" and document["comment"]["posted"] is False
    assert "HTTP 403 Resource not accessible by integration" in document["comment"]["error"]
    assert "no comment: GitHub API POST /repos/labring/cluster-image/issues/6/comments" in out.err


def test_unknown_docker_image(config: BotConfig, github: FakeGitHub) -> None:
    (config.workspace / "dockerimages/hello-box/latest").mkdir(parents=True)
    payload = comment(github, "/imagebuild_dockerimages hello-bx v1", title="【Auto-build】hello-bx")
    refused(config, github, payload, "unknown docker image hello-bx: there is no dockerimages/"
            "hello-bx/; did you mean hello-box?")


def test_docker_image_without_a_dockerfile(config: BotConfig, github: FakeGitHub) -> None:
    (config.workspace / "dockerimages/hello-box/latest").mkdir(parents=True)
    payload = comment(github, "/imagebuild_dockerimages hello-box v1", title="【Auto-build】hello-box")
    refused(config, github, payload, "dockerimages/hello-box/latest/ has no Dockerfile")


def test_command_line_refusal_exits_3_with_one_comment(config: BotConfig, github: FakeGitHub,
                                                       tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(comment(github, "/imagebuild_apps hello-tools $(id)")))
    proc = cli("bot", "--event", str(event), "-C", str(config.workspace), check=False,
               env=github.environ())
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "refused"
    assert proc.stderr.startswith("bot: issue #6: refused: the version has characters outside")
    assert len(github.comments) == 1


def test_command_line_without_an_event(tmp_path: Path) -> None:
    proc = cli("bot", "-C", str(tmp_path), check=False, env={"GITHUB_EVENT_PATH": ""})
    assert proc.returncode == 3 and "no event payload" in proc.stderr
    proc = cli("bot", "--event", str(tmp_path / "missing.json"), check=False)
    assert proc.returncode == 3 and "missing.json" in proc.stderr


def test_a_command_after_a_closed_pre_block_counts(config: BotConfig, github: FakeGitHub) -> None:
    body = "<pre>\n/imagebuild_apps hello-chart v0.1.0\n</pre>\n/imagebuild_apps nope v1"
    refused(config, github, comment(github, body), "title must be exactly 【Auto-build】nope")


@pytest.mark.parametrize("separator", ["\v", "\f", "\u00a0", "\u2003"])
def test_only_space_and_tab_separate_arguments(config: BotConfig, github: FakeGitHub,
                                               separator: str) -> None:
    body = f"/imagebuild_apps nope{separator}v1"
    decision = refused(config, github, comment(github, body, title="【Auto-build】nope"),
                       "takes 2 arguments, not 1")
    assert separator not in decision.reason


def test_tabs_separate_arguments(config: BotConfig, github: FakeGitHub) -> None:
    refused(config, github, comment(github, "/imagebuild_apps\tnope \t v1", title="【Auto-build】nope"),
            "unknown app nope")  # two arguments: past the command, label and title rules


def test_the_label_matches_whatever_its_letter_case(config: BotConfig, github: FakeGitHub) -> None:
    refused(config, github, comment(github, "/imagebuild_apps nope v1", title="【Auto-build】nope",
                                    labels=("Accepted",)), "unknown app nope")


def test_builds_can_be_limited_to_author_associations(tmp_path: Path, github: FakeGitHub) -> None:
    ws = copy_workspace(tmp_path / "ws")
    config = BotConfig(workspace=ws, cache_dir=ws / "cache", associations=frozenset({"MEMBER", "OWNER"}))
    payload = comment(github, "/imagebuild_apps nope v1", title="【Auto-build】nope")  # author: NONE
    refused(config, github, payload, "accepted only from MEMBER, OWNER of the repository, and the "
                                     "author of this command is NONE")
    github.comments.clear()
    payload["comment"]["author_association"] = "member"
    refused(config, github, payload, "unknown app nope")
    proc = cli("bot", "--event", str(tmp_path / "none.json"), "--allow-association", "BOSS",
               "-C", str(ws), check=False)
    assert proc.returncode == 3 and "not a GitHub author association" in proc.stderr
