"""A small GitHub REST API on 127.0.0.1 for the bot's tests: the JSON of the three calls
the bot makes, and every comment posted, recorded.

    with FakeGitHub(token="t0k3n") as github:
        github.add_issue(6, title="【Auto-build】hello-tools", labels=["accepted"])
        ...                                            # run the bot against github.url
        assert [c.body for c in github.comments] == [...]

    GET  /repos/{owner}/{repo}/issues/{number}             the issue (title, labels, ...)
    GET  /repos/{owner}/{repo}/issues/{number}/labels      paginated: per_page, page, Link
    POST /repos/{owner}/{repo}/issues/{number}/comments    201 and the comment
    GET  /repos/{owner}/{repo}/releases/latest             the newest release neither draft nor
                                                           prerelease (``add_release``); public

Requests without ``Authorization: Bearer <token>`` get 401 ``Bad credentials``; unknown
repositories or issues 404 ``Not Found``; ``fail_comments`` answers posts with 403.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

_RELEASE = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/releases/latest")
_PATH = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)(?P<rest>/labels|/comments)?")


@dataclass(frozen=True)
class Comment:
    issue: int
    body: str


@dataclass
class FakeGitHub:
    token: str = "t0k3n"
    repository: str = "labring/cluster-image"
    fail_comments: bool = False
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    releases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # repo -> oldest first

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def environ(self, **extra: str) -> dict[str, str]:
        """The environment GitHub Actions gives the bot, pointing at this server."""
        return {"GITHUB_TOKEN": self.token, "GITHUB_REPOSITORY": self.repository,
                "GITHUB_API_URL": self.url, **extra}

    def add_issue(self, number: int, title: str, labels: list[str], body: str = "",
                  author: str = "alice") -> dict[str, Any]:
        """Create or replace an issue; its JSON as GitHub would send it (also for payloads)."""
        issue = {
            "url": f"{self.url}/repos/{self.repository}/issues/{number}",
            "html_url": f"https://github.com/{self.repository}/issues/{number}",
            "id": 1000 + number, "number": number, "title": title, "body": body,
            "state": "open", "locked": False, "comments": 0,
            "user": {"login": author, "id": 1, "type": "User"},
            "labels": [{"id": 100 + i, "name": name, "color": "0e8a16", "default": False}
                       for i, name in enumerate(labels)],
            "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-01T10:00:00Z",
        }
        with self._lock:
            self.issues[number] = issue
        copied: dict[str, Any] = json.loads(json.dumps(issue))  # a payload shares nothing
        return copied

    def add_release(self, repo: str, tag: str, *, prerelease: bool = False, draft: bool = False
                    ) -> dict[str, Any]:
        """Publish a release of ``repo`` (newer than those before); its JSON as GitHub sends it."""
        api = f"{self.url}/repos/{repo}"
        with self._lock:
            number = sum(len(r) for r in self.releases.values()) + 1
            release = {
                "url": f"{api}/releases/{number}", "html_url": f"https://github.com/{repo}/releases/tag/{tag}",
                "assets_url": f"{api}/releases/{number}/assets", "id": 5000 + number,
                "tag_name": tag, "target_commitish": "main", "name": tag, "draft": draft,
                "prerelease": prerelease, "created_at": f"2024-06-{number:02d}T10:00:00Z",
                "published_at": f"2024-06-{number:02d}T10:05:00Z",
                "author": {"login": "releaser", "id": 4, "type": "User"}, "assets": [],
                "tarball_url": f"{api}/tarball/{tag}", "zipball_url": f"{api}/zipball/{tag}",
                "body": f"Release {tag}"}
            self.releases.setdefault(repo, []).append(release)
        return release

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    # what the handler calls
    def answer(self, method: str, target: str, authorization: str, body: bytes
               ) -> tuple[int, Any, dict[str, str]]:
        split = urlsplit(target)
        with self._lock:
            self.requests.append((method, split.path))
        release = _RELEASE.fullmatch(split.path)
        if method == "GET" and release is not None:  # public: no token needed
            published = [r for r in self.releases.get(release["repo"], [])
                         if not r["draft"] and not r["prerelease"]]
            if not published:
                return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest/"
                             "releases/releases#get-the-latest-release", "status": "404"}, {}
            return 200, published[-1], {}
        if authorization != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}, {}
        match = _PATH.fullmatch(split.path)
        if match is None or match["repo"] != self.repository or int(match["number"]) not in self.issues:
            return 404, {"message": "Not Found"}, {}
        issue = self.issues[int(match["number"])]
        if method == "GET" and match["rest"] is None:
            return 200, issue, {}
        if method == "GET" and match["rest"] == "/labels":
            return self._labels(issue, split.path, parse_qs(split.query))
        if method == "POST" and match["rest"] == "/comments":
            return self._comment(issue, body)
        return 404, {"message": "Not Found"}, {}

    def _labels(self, issue: dict[str, Any], path: str, query: dict[str, list[str]]
                ) -> tuple[int, Any, dict[str, str]]:
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        labels = issue["labels"]
        headers = {}
        if page * per_page < len(labels):
            headers["Link"] = f'<{self.url}{path}?per_page={per_page}&page={page + 1}>; rel="next"'
        return 200, labels[(page - 1) * per_page:page * per_page], headers

    def _comment(self, issue: dict[str, Any], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        if self.fail_comments:
            return 403, {"message": "Resource not accessible by integration"}, {}
        body = json.loads(raw)["body"]
        with self._lock:
            self.comments.append(Comment(issue["number"], body))
            number = len(self.comments)
        return 201, {"id": number, "body": body, "user": {"login": "github-actions[bot]"},
                     "html_url": f"{issue['html_url']}#issuecomment-{number}"}, {}


def _handler(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(b"")

        def do_POST(self) -> None:
            self._reply(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

        def _reply(self, body: bytes) -> None:
            status, document, headers = github.answer(
                self.command, self.path, self.headers.get("Authorization", ""), body)
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def repository_json(full_name: str) -> dict[str, Any]:
    owner, name = full_name.split("/")
    return {"id": 42, "name": name, "full_name": full_name, "private": False,
            "owner": {"login": owner, "id": 7, "type": "Organization"}}


def comment_event(issue: dict[str, Any], body: str, author: str = "alice",
                  action: str = "created", repository: str = "labring/cluster-image"
                  ) -> dict[str, Any]:
    """An ``issue_comment`` webhook payload as GitHub documents it."""
    user = {"login": author, "id": 2, "type": "User"}
    return {"action": action, "issue": issue,
            "comment": {"id": 9001, "body": body, "user": user, "author_association": "NONE",
                        "html_url": f"{issue['html_url']}#issuecomment-9001",
                        "created_at": "2024-05-01T11:00:00Z"},
            "repository": repository_json(repository), "sender": user}


def labeled_event(issue: dict[str, Any], label: str = "accepted",
                  repository: str = "labring/cluster-image") -> dict[str, Any]:
    """An ``issues`` webhook payload with action ``labeled`` as GitHub documents it."""
    return {"action": "labeled", "issue": issue,
            "label": {"id": 100, "name": label, "color": "0e8a16", "default": False},
            "repository": repository_json(repository),
            "sender": {"login": "maintainer", "id": 3, "type": "User"}}
