"""What the bot decided and did, for machines (JSON, ``$GITHUB_OUTPUT``) and people (the
one comment on the issue).

    ignored    no command, or not an event to act on    exit 0, no comment
    refused    a rule said no; the reason says which     exit 3, one comment
    failed     the build, push or sync failed            exit 4, one comment
    succeeded  images built and published                exit 0, one comment with digests
    sharded    (bot --stage plan) the platforms to build  exit 0, no comment: the publish
               in CI jobs, as a matrix                    stage comments

Every string in a decision is either fixed text, a checked token, or a one-line error
of clusterbuild: nothing the issue's author typed is repeated unchecked.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from clusterbuild.bot.commands import Command
from clusterbuild.bot.event import BOT_MARKER

EXIT_REFUSED = 3
EXIT_FAILED = 4


class Outcome(StrEnum):
    IGNORED = "ignored"
    REFUSED = "refused"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    SHARDED = "sharded"


@dataclass(frozen=True)
class Image:
    ref: str
    digest: str  # sha256:..., or an image ID when only built


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str  # one line
    issue: int | None = None
    command: Command | None = None
    images: tuple[Image, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. where the labels were read from
    details: tuple[str, ...] = ()  # Markdown lines after the images, e.g. the release diff
    matrix: dict[str, Any] | None = None  # sharded: the CI matrix (``clusterbuild matrix`` JSON)

    @property
    def exit_code(self) -> int:
        return {Outcome.REFUSED: EXIT_REFUSED, Outcome.FAILED: EXIT_FAILED}.get(self.outcome, 0)

    @property
    def wants_comment(self) -> bool:
        return self.outcome not in (Outcome.IGNORED, Outcome.SHARDED) and self.issue is not None


@dataclass(frozen=True)
class Feedback:
    """What became of the comment."""

    posted: bool
    url: str = ""
    error: str = ""  # why it was not posted


def one_line(text: str, limit: int = 1000) -> str:
    """``text`` as one line of at most ``limit`` characters (for reasons and outputs)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def decision_json(decision: Decision, feedback: Feedback) -> dict[str, Any]:
    command = decision.command
    return {
        "outcome": decision.outcome.value,
        "reason": decision.reason,
        "issue": decision.issue,
        "command": None if command is None else {
            "name": command.name, "args": list(command.args),
            "build_args": dict(command.build_args), "line": command.line},
        "images": [{"ref": i.ref, "digest": i.digest} for i in decision.images],
        "notes": list(decision.notes),
        "matrix": decision.matrix,
        "comment": {"posted": feedback.posted, "url": feedback.url, "error": feedback.error},
        "exit_code": decision.exit_code,
    }


def write_github_output(path: Path, decision: Decision, document: dict[str, Any]) -> None:
    """Step outputs: outcome, reason, command, images (JSON), decision (JSON) and, when
    sharded, matrix ({"include": [...]}), count and remote (the remote cache)."""
    matrix = decision.matrix or {}
    values = {
        "outcome": decision.outcome.value,
        "reason": decision.reason,
        "command": "" if decision.command is None else decision.command.name,
        "images": json.dumps(document["images"], separators=(",", ":")),
        "decision": json.dumps(document, separators=(",", ":")),
        "matrix": json.dumps({"include": matrix.get("include", [])}, separators=(",", ":")),
        "count": str(matrix.get("count", 0)),
        "remote": matrix.get("remote_cache") or "",
    }
    with path.open("a", encoding="utf-8") as out:
        for key, value in values.items():
            delimiter = f"EOF_{uuid.uuid4().hex}"  # never inside a value: safe for any text
            out.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")


LOG_LINES = 20  # of a failure's log, quoted in its comment
_LOG = re.compile(r"\(log: ([^)\s]+)\)")


def _log_tail(reason: str) -> list[str]:
    """The last lines of the log a failure names (an init.sh run), as a folded block."""
    match = _LOG.search(reason)
    if match is None:
        return []
    try:
        lines = Path(match.group(1)).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    tail = [line[:300].replace("`", "'") for line in lines[-LOG_LINES:]]  # no fence breaks out
    return ["", f"<details><summary>the last {len(tail)} lines of the log</summary>", "", "```",
            *tail, "```", "</details>"]


def run_url(environ: Mapping[str, str]) -> str:
    """This GitHub Actions run's page ("" outside Actions)."""
    server, repository, run = (environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY",
                                                             "GITHUB_RUN_ID"))
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run}" if server and repository and run else ""


def comment_body(decision: Decision, run: str = "") -> str:
    """The Markdown of the one comment the decision posts (with a link to the run)."""
    command = f"`{decision.command}`" if decision.command is not None else "The request"
    if decision.outcome is Outcome.SUCCEEDED:
        lines = [f"✅ {command}: {decision.reason}", "", "| image | digest |", "|---|---|"]
        lines += [f"| `{image.ref}` | `{image.digest}` |" for image in decision.images]
        lines += decision.details
    elif decision.outcome is Outcome.REFUSED:
        lines = [f"🚫 {command} was refused: {decision.reason}", "",
                 "Commands run on issues labelled `accepted` whose title is "
                 "`【Auto-build】<app>`; one command per comment, outside code blocks and quotes."]
    else:
        lines = [f"❌ {command} failed: {decision.reason}", *_log_tail(decision.reason)]
    lines += [f"<sub>{note}</sub>" for note in decision.notes]
    if run:
        lines.append(f"<sub>[the workflow run]({run})</sub>")
    return "\n".join([BOT_MARKER, *lines]) + "\n"


def human_line(decision: Decision, feedback: Feedback) -> str:
    """The one line for the log (stderr)."""
    where = f"issue #{decision.issue}: " if decision.issue is not None else ""
    comment = (f" (commented: {feedback.url or 'yes'})" if feedback.posted
               else f" (no comment: {feedback.error})" if feedback.error else "")
    return f"bot: {where}{decision.outcome.value}: {decision.reason}{comment}"
