"""The GitHub events the bot reacts to, read from payloads in the shape GitHub documents.

* ``issue_comment`` with action ``created``: the command is read from ``comment.body``,
  written by ``comment.user.login``.
* ``issues`` with action ``labeled`` and ``label.name == "accepted"``: the command is read
  from ``issue.body``, written by ``issue.user.login``.

Everything else (edits, deletions, other labels, pull-request comments, the bot's own
comments) is ignored, with the reason, and gets no comment back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterbuild.errors import InputError

ACCEPTED = "accepted"
BOT_MARKER = "<!-- clusterbuild-bot -->"  # first line of every comment the bot posts
MAX_EVENT_BYTES = 8 * 1024 * 1024  # GitHub's payloads are at most a few hundred KiB


@dataclass(frozen=True)
class IssueEvent:
    """An issue event that may carry a command."""

    kind: str  # "comment" (a new comment) or "accepted" (the label was just added)
    repository: str  # owner/name, as the payload says ("" when absent)
    number: int
    title: str
    labels: tuple[str, ...]  # as the payload says: may be stale, re-read when possible
    text: str  # where the command is read from
    author: str  # who wrote ``text``
    association: str = ""  # the author's author_association: OWNER, MEMBER, COLLABORATOR, ...


@dataclass(frozen=True)
class Ignored:
    """An event the bot does not act on, and why."""

    reason: str
    number: int | None = None


def read_payload(path: Path) -> dict[str, Any]:
    """The JSON payload of ``path`` (``--event`` or ``$GITHUB_EVENT_PATH``)."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_EVENT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"event payload {path}: {exc.strerror or exc}",
                         hint="pass --event FILE or set GITHUB_EVENT_PATH") from None
    if len(raw) > MAX_EVENT_BYTES:
        raise InputError(f"event payload {path}: larger than {MAX_EVENT_BYTES} bytes",
                         hint="pass the file GitHub Actions wrote to GITHUB_EVENT_PATH")
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"event payload {path}: not JSON ({exc})",
                         hint="pass the file GitHub Actions wrote to GITHUB_EVENT_PATH") from None
    if not isinstance(payload, dict):
        raise InputError(f"event payload {path}: not a JSON object",
                         hint="pass the file GitHub Actions wrote to GITHUB_EVENT_PATH")
    return payload


def parse_event(payload: dict[str, Any]) -> IssueEvent | Ignored:
    """The issue event in ``payload``, or why it is ignored."""
    issue = _object(payload, "issue")
    number = _field(issue, "number", int, "issue.number")
    action = payload.get("action")
    if "comment" in payload:
        comment = _object(payload, "comment")
        if action != "created":
            return Ignored("an issue comment was not created but changed (only new comments "
                           "are read)", number)
        if issue.get("pull_request") is not None:
            return Ignored("a comment on a pull request, not on an issue", number)
        body = _field(comment, "body", str, "comment.body", default="")
        if body.lstrip().startswith(BOT_MARKER):
            return Ignored("the bot's own comment", number)
        return _event(payload, issue, "comment", body, _login(comment, "comment.user"),
                      _association(comment))
    if action != "labeled":
        return Ignored("neither a new issue comment nor an issue getting a label", number)
    label = _field(_object(payload, "label"), "name", str, "label.name")
    if label != ACCEPTED:
        return Ignored(f"a label other than {ACCEPTED} was added", number)
    body = _field(issue, "body", str, "issue.body", default="")
    return _event(payload, issue, "accepted", body, _login(issue, "issue.user"), _association(issue))


def _association(holder: dict[str, Any]) -> str:
    value = holder.get("author_association")
    return value.upper() if isinstance(value, str) else ""


def _event(payload: dict[str, Any], issue: dict[str, Any], kind: str, text: str,
           author: str, association: str) -> IssueEvent:
    labels = _field(issue, "labels", list, "issue.labels", default=[])
    names = tuple(label["name"] for label in labels
                  if isinstance(label, dict) and isinstance(label.get("name"), str))
    repository = payload.get("repository")
    full_name = repository.get("full_name", "") if isinstance(repository, dict) else ""
    return IssueEvent(kind=kind, repository=full_name if isinstance(full_name, str) else "",
                      number=_field(issue, "number", int, "issue.number"),
                      title=_field(issue, "title", str, "issue.title"), labels=names,
                      text=text, author=author, association=association)


def _login(holder: dict[str, Any], where: str) -> str:
    login: str = _field(_object(holder, "user", where), "login", str, f"{where}.login")
    return login


def _object(holder: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = holder.get(key)
    if not isinstance(value, dict):
        raise InputError(f"event payload: {where or key} is missing or not an object",
                         hint="the bot reads issue_comment and issues (labeled) events")
    return value


def _field(holder: dict[str, Any], key: str, kind: type[Any], where: str,
           default: Any = None) -> Any:
    value = holder.get(key)
    if value is None and default is not None:
        return default
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InputError(f"event payload: {where} is missing or not a {kind.__name__}",
                         hint="the bot reads issue_comment and issues (labeled) events")
    return value
