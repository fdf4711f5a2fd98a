"""The rules a command must pass before anything runs, each refusing with its reason.

Issue rules: the issue carries the ``accepted`` label; for the two build commands its
title is exactly ``【Auto-build】<app>`` (U+3010, U+3011) naming the command's app;
``/imagesync`` comes from a configured robot account. Workspace rules: the app is listed
in apps.yaml and its version resolves by the catalogue's rule (``applications/<app>/
<version>/``, else ``latest/``); a docker image has ``dockerimages/<name>/<version|latest>/
Dockerfile``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from clusterbuild.bot.commands import SYNC, Command, Refusal, check_token
from clusterbuild.bot.event import ACCEPTED
from clusterbuild.errors import InputError
from clusterbuild.workspace.load import LATEST, LoadedWorkspace, version_dir

TITLE_PREFIX = "【Auto-build】"
DOCKERIMAGES_DIR = "dockerimages"
# "Auto-build" behind and before anything but letters and digits: [Auto-build], 【 Auto build】...
_LOOK_ALIKE = re.compile(r"[\W_]{0,3}auto[\W_]{0,3}build[\W_]", re.IGNORECASE)


@dataclass(frozen=True)
class IssueState:
    """The issue as the rules see it, and where it was read from."""

    title: str
    labels: tuple[str, ...]
    source: str  # "the GitHub API" or "the event payload"


def check_issue(issue: IssueState, command: Command, author: str,
                robots: Collection[str], association: str = "",
                associations: Collection[str] = ()) -> None:
    if ACCEPTED not in {label.lower() for label in issue.labels}:  # GitHub labels ignore case
        raise Refusal(f"the issue does not carry the label {ACCEPTED} (read from "
                      f"{issue.source}); a maintainer adds it once the request is reviewed")
    if command.name == SYNC:
        if not robots:
            raise Refusal(f"{SYNC} is only accepted from robot accounts, and none is configured "
                          "(clusterbuild bot --robot NAME, or CLUSTERBUILD_BOT_ROBOTS)")
        if author not in robots:
            raise Refusal(f"{SYNC} is only accepted from the configured robot accounts, and "
                          "the author of this command is not one of them")
        return
    check_title(issue.title, command.target)
    if associations and association not in associations:
        raise Refusal(f"builds are accepted only from {', '.join(sorted(associations))} of the "
                      f"repository, and the author of this command is {association or 'none of them'}")


def check_title(title: str, name: str) -> None:
    """``title`` must be exactly ``【Auto-build】<name>``."""
    expected = TITLE_PREFIX + name
    if title != expected:
        raise Refusal(f"the issue title must be exactly {expected} (the name in the command), "
                      f"but {_title_problem(title)}; edit the title and comment again")


def _title_problem(title: str) -> str:
    if not title.startswith(TITLE_PREFIX):
        if _LOOK_ALIKE.match(title):
            return ("it spells the prefix differently (look-alike brackets, spaces or letter "
                    "case): copy it exactly, 【 is U+3010 and 】 is U+3011")
        return f"it does not start with {TITLE_PREFIX}"
    rest = title[len(TITLE_PREFIX):]
    if rest != rest.strip():
        return "it has extra spaces around the app name"
    if len(rest.split()) > 1 or ":" in rest:
        return "it has more than the app name (a title names the app only, no version)"
    try:
        check_token(rest, "title's app")
    except Refusal:
        return "the app it names is not a valid name"
    return f"it names another app ({rest})"


def check_app(ws: LoadedWorkspace, app: str, version: str) -> Path:
    """The directory ``app`` ``version`` builds from; refused when there is none."""
    if app not in ws.config.apps:
        close = difflib.get_close_matches(app, list(ws.config.apps), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise Refusal(f"unknown app {app}: apps.yaml does not list it{hint}")
    try:
        return version_dir(ws, app, version)
    except InputError:
        raise Refusal(f"{app} {version} resolves to nothing: neither applications/{app}/"
                      f"{version}/ nor applications/{app}/{LATEST}/ exists") from None


def check_dockerimage(root: Path, name: str, version: str) -> Path:
    """The build context of ``dockerimages/<name>/<version|latest>/``."""
    base = root / DOCKERIMAGES_DIR / name
    if not base.is_dir():
        known = sorted(p.name for p in base.parent.iterdir()) if base.parent.is_dir() else []
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise Refusal(f"unknown docker image {name}: there is no {DOCKERIMAGES_DIR}/{name}/{hint}")
    for context in (base / version, base / LATEST):
        if context.is_dir():
            if not (context / "Dockerfile").is_file() and not (context / "init.sh").is_file():
                raise Refusal(f"{DOCKERIMAGES_DIR}/{name}/{context.name}/ has no Dockerfile "
                              "(nor an init.sh that writes one)")
            return context
    raise Refusal(f"{name} {version} resolves to nothing: neither {DOCKERIMAGES_DIR}/{name}/"
                  f"{version}/ nor {DOCKERIMAGES_DIR}/{name}/{LATEST}/ exists")
