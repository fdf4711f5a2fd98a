"""One event in, one decision out: find the command, check every rule, do the work, and
say so on the issue exactly once.

Rules are checked in this order, the first that fails refusing: the command itself (one
per text, its tokens), the ``accepted`` label, the title (build commands) or the robot
account (``/imagesync``), then the workspace (known app, a version that resolves).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clusterbuild.bot.actions import build_app, build_dockerimage, sync
from clusterbuild.bot.commands import BUILD_APPS, BUILD_DOCKERIMAGES, Command, Refusal, find_command
from clusterbuild.bot.config import BotConfig, github_from
from clusterbuild.bot.decision import (
    EXIT_FAILED,
    Decision,
    Feedback,
    Image,
    Outcome,
    comment_body,
    decision_json,
    human_line,
    one_line,
    run_url,
    write_github_output,
)
from clusterbuild.bot.event import IssueEvent, parse_event, read_payload
from clusterbuild.bot.github import GitHub, GitHubError
from clusterbuild.bot.rules import IssueState, check_app, check_dockerimage, check_issue
from clusterbuild.bot.shards import plan_shards, publish_shards
from clusterbuild.errors import ClusterbuildError
from clusterbuild.workspace.load import load_workspace

NO_TOKEN = "no GITHUB_TOKEN"


def bot_main(config: BotConfig, event_path: Path, environ: Mapping[str, str]) -> int:
    """Handle the event of ``event_path``; print the decision; return the exit code."""
    decision, feedback = handle_event(config, read_payload(event_path), environ)
    document = decision_json(decision, feedback)
    print(json.dumps(document, indent=2))
    if environ.get("GITHUB_OUTPUT"):
        write_github_output(Path(environ["GITHUB_OUTPUT"]), decision, document)
    print(human_line(decision, feedback), file=sys.stderr)
    if feedback.error and feedback.error != NO_TOKEN:
        return decision.exit_code or EXIT_FAILED  # the author was not told: fail the run
    return decision.exit_code


def handle_event(config: BotConfig, payload: dict[str, Any], environ: Mapping[str, str]
                 ) -> tuple[Decision, Feedback]:
    event = parse_event(payload)
    if not isinstance(event, IssueEvent):
        return Decision(Outcome.IGNORED, event.reason, event.number), Feedback(False)
    access = github_from(environ, event.repository)
    if access is None:
        decision = decide(config, event, None)
        return decision, Feedback(False, error=NO_TOKEN if decision.wants_comment else "")
    with GitHub(access) as github:
        decision = decide(config, event, github)
        return decision, give_feedback(github, decision, run_url(environ))


def decide(config: BotConfig, event: IssueEvent, github: GitHub | None) -> Decision:
    """Check the command of ``event`` against every rule and, when it passes, run it."""
    where = "comment" if event.kind == "comment" else "issue body"
    try:
        command = find_command(event.text)
    except Refusal as refusal:
        return Decision(Outcome.REFUSED, str(refusal), event.number)
    if command is None:
        return Decision(Outcome.IGNORED, f"no command in the {where}", event.number)
    notes = () if github else (f"The title and labels were read from the event payload "
                               f"({NO_TOKEN}).",)
    try:
        issue = (github.issue_state(event.number) if github else
                 IssueState(event.title, event.labels, "the event payload"))
        check_issue(issue, command, event.author, config.robots, event.association,
                    config.associations)
        context = check_workspace(config, command)
    except Refusal as refusal:
        return Decision(Outcome.REFUSED, str(refusal), event.number, command, notes=notes)
    except ClusterbuildError as exc:
        return Decision(Outcome.FAILED, one_line(str(exc)), event.number, command, notes=notes)
    return run_command(config, command, context, event.number, notes)


def check_workspace(config: BotConfig, command: Command) -> Path | None:
    """The directory the command builds from (None for /imagesync); Refusal when none."""
    name, *rest = command.args
    if command.name == BUILD_APPS:
        return check_app(load_workspace(config.workspace), name, rest[0])
    if command.name == BUILD_DOCKERIMAGES:
        return check_dockerimage(config.workspace, name, rest[0])
    return None


def run_command(config: BotConfig, command: Command, context: Path | None, issue: int,
                notes: tuple[str, ...]) -> Decision:
    images: tuple[Image, ...]
    details: tuple[str, ...] = ()
    try:
        if command.name == BUILD_APPS and config.stage == "plan":
            matrix = plan_shards(config, command.args[0], command.args[1])
            if matrix is not None:
                reason = f"{len(matrix.entries)} platform build(s) in shards, then the index"
                return Decision(Outcome.SHARDED, reason, issue, command, notes=notes, matrix=matrix.to_json())
        if command.name == BUILD_APPS and config.stage == "publish":
            images = publish_shards(config, command.args[0], command.args[1])
        elif command.name == BUILD_APPS:
            images, details = build_app(config, command.args[0], command.args[1])
        elif command.name == BUILD_DOCKERIMAGES:
            assert context is not None
            images = build_dockerimage(config, command.args[0], command.args[1], context,
                                       command.build_args)
        else:
            images = sync(config, command.target)
    except ClusterbuildError as exc:
        return Decision(Outcome.FAILED, one_line(str(exc)), issue, command, notes=notes)
    except Exception as exc:  # every failure is reported on the issue, whatever it is
        reason = one_line(f"unexpected {type(exc).__name__}: {exc}")
        return Decision(Outcome.FAILED, reason, issue, command, notes=notes)
    return Decision(Outcome.SUCCEEDED, _summary(config, command, images), issue, command,
                    images, notes, details)


def _summary(config: BotConfig, command: Command, images: tuple[Image, ...]) -> str:
    if command.name not in (BUILD_APPS, BUILD_DOCKERIMAGES):
        return "copied with every platform"
    count = f"{len(images)} image{'s' if len(images) != 1 else ''}"
    if config.publishes:
        return f"built and pushed {count}"
    return f"built {count} (not pushed: the bot runs without --push)"


def give_feedback(github: GitHub, decision: Decision, run: str = "") -> Feedback:
    """Post the decision's one comment, if it has one."""
    if not decision.wants_comment or decision.issue is None:
        return Feedback(False)
    try:
        return Feedback(True, github.post_comment(decision.issue, comment_body(decision, run)))
    except GitHubError as exc:
        return Feedback(False, error=str(exc))
