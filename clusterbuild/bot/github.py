"""GitHub's REST API, as far as the bot uses it: read an issue and its labels, comment.

    GET  /repos/{owner}/{repo}/issues/{number}            the title, as it is now
    GET  /repos/{owner}/{repo}/issues/{number}/labels     the labels, as they are now
    POST /repos/{owner}/{repo}/issues/{number}/comments   {"body": ...}

The token (``$GITHUB_TOKEN``) is sent as a bearer token to ``$GITHUB_API_URL`` only,
never to another host, and never appears in a message.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from clusterbuild.bot.config import GitHubAccess
from clusterbuild.bot.rules import IssueState
from clusterbuild.errors import BuildError

API_VERSION = "2022-11-28"
MAX_COMMENT = 65_536  # GitHub refuses longer comment bodies
MAX_LABEL_PAGES = 10


class GitHubError(BuildError):
    """A GitHub API call failed; the message names the call and GitHub's answer."""


class GitHub:
    """A session with the API of one repository."""

    def __init__(self, access: GitHubAccess, timeout: float = 30.0) -> None:
        self.access = access
        self._base = access.api_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout, headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {access.token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "clusterbuild-bot",
        })

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._client.close()

    def issue_state(self, number: int) -> IssueState:
        """The issue's title and labels as GitHub has them now (not as an event said)."""
        issue = self._call("GET", self._issue_path(number)).json()
        title = issue.get("title") if isinstance(issue, dict) else None
        if not isinstance(title, str):
            raise GitHubError(f"GitHub API: issue #{number} came back without a title")
        return IssueState(title, self._labels(number), "the GitHub API")

    def post_comment(self, number: int, body: str) -> str:
        """Comment on the issue; the comment's address."""
        if len(body) > MAX_COMMENT:
            body = body[:MAX_COMMENT - 20] + "\n\n(cut)"
        answer = self._call("POST", f"{self._issue_path(number)}/comments", json={"body": body})
        url = answer.json().get("html_url", "")
        return url if isinstance(url, str) else ""

    def _labels(self, number: int) -> tuple[str, ...]:
        names: list[str] = []
        url = f"{self._base}{self._issue_path(number)}/labels?per_page=100"
        for _ in range(MAX_LABEL_PAGES):
            answer = self._call("GET", url)
            names += [label["name"] for label in answer.json()
                      if isinstance(label, dict) and isinstance(label.get("name"), str)]
            url = answer.links.get("next", {}).get("url", "")
            if not url.startswith(self._base + "/"):
                break  # the last page, or a link elsewhere: never send the token there
        return tuple(names)

    def _issue_path(self, number: int) -> str:
        return f"/repos/{self.access.repository}/issues/{number}"

    def _call(self, method: str, target: str, **kwargs: Any) -> httpx.Response:
        url = target if target.startswith(self._base) else self._base + target
        what = f"GitHub API {method} {url.removeprefix(self._base).partition('?')[0]}"
        try:
            answer = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise GitHubError(f"{what}: {type(exc).__name__}: {exc}",
                              hint="check GITHUB_API_URL and the network") from None
        if answer.status_code >= 400:
            raise GitHubError(f"{what}: HTTP {answer.status_code} {_message(answer)}".rstrip(),
                              hint="check that GITHUB_TOKEN may read issues and write comments "
                                   "(permissions: issues: write)")
        return answer


def _message(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.reason_phrase
    message = body.get("message") if isinstance(body, dict) else None
    return str(message)[:200] if message else answer.reason_phrase
