"""The fenced blocks of the Markdown docs, and the shell script that runs their commands.

A fence's info string says what the test does with it:

    ```bash                       run: every command, in order, exit 0 unless it ends in
                                  a comment "# exit N" (then exactly N)
    ```bash no-run: REASON        not run here (a real cluster, PyPI, GitHub); the reason is required
    ```bash synopsis              a usage line: every --option it names is in the command's --help
    ```LANG file=PATH             the file the reader writes (or that reads so): written at that point

Fences of other languages (yaml, json) and fences without a language (output, layouts) are
shown, not run. Every fence of a document that runs, runs in one bash process (so `cd` and
variables carry over), in the order of the document.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

SHELLS = frozenset({"bash", "sh", "shell", "console"})
_OPEN = re.compile(r"^ {0,3}(`{3,})(.*)$")
_EXPECT = re.compile(r"\s#\s*exit (\d+)\b")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
EOF_MARK = "__CLUSTERBUILD_DOC_EOF__"


@dataclass(frozen=True)
class Fence:
    doc: str  # path relative to the repository
    line: int  # line number of the opening fence
    lang: str
    mode: str  # "run", "no-run", "synopsis", "file" or "shown"
    body: tuple[str, ...]
    reason: str = ""  # no-run: why
    path: str = ""  # file: where

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


@dataclass(frozen=True)
class Command:
    fence: Fence
    line: int  # line number in the document of its first line
    text: str  # the command as written, continuation lines and heredoc bodies included
    expect: int  # the exit code the document says

    @property
    def where(self) -> str:
        return f"{self.fence.doc}:{self.line}"


def fences(path: Path, name: str) -> list[Fence]:
    """Every fenced block of the Markdown file ``path`` (shown as ``name``)."""
    found: list[Fence] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _OPEN.match(lines[i])
        if opening is None:
            i += 1
            continue
        ticks, info = opening.group(1), opening.group(2).strip()
        end = next((j for j in range(i + 1, len(lines))
                    if lines[j].strip().startswith(ticks) and not lines[j].strip().strip("`")), len(lines))
        found.append(_fence(name, i + 1, info, tuple(lines[i + 1:end])))
        i = end + 1
    return found


def _fence(doc: str, line: int, info: str, body: tuple[str, ...]) -> Fence:
    lang, _, rest = info.partition(" ")
    rest = rest.strip()
    if rest.startswith("no-run"):
        return Fence(doc, line, lang, "no-run", body, reason=rest[len("no-run"):].lstrip(":").strip())
    if rest.startswith("file="):
        return Fence(doc, line, lang, "file", body, path=rest[len("file="):].strip())
    if rest == "synopsis":
        return Fence(doc, line, lang, "synopsis", body)
    return Fence(doc, line, lang, "run" if lang in SHELLS and not rest else "shown", body, reason=rest)


def commands(fence: Fence) -> list[Command]:
    """The commands of a shell fence: comment and blank lines dropped, continuation lines
    joined, a heredoc's body kept with its command."""
    out: list[Command] = []
    body = fence.body
    i = 0
    while i < len(body):
        if not body[i].strip() or body[i].lstrip().startswith("#"):
            i += 1
            continue
        start = i
        while body[i].endswith("\\") and i + 1 < len(body):
            i += 1
        first = " ".join(line.rstrip("\\").strip() for line in body[start:i + 1])
        for heredoc in _HEREDOC.finditer(first):
            i = next(j for j in range(i + 1, len(body)) if body[j].strip() == heredoc.group(2))
        expect = _EXPECT.search(first)
        out.append(Command(fence, fence.line + 1 + start, "\n".join(body[start:i + 1]),
                           int(expect.group(1)) if expect else 0))
        i += 1
    return out


def script(steps: list[Fence], results: Path, hosts: dict[str, str], after: str) -> tuple[str, list[Command]]:
    """One bash script running the ``run`` and ``file`` fences of ``steps`` in order; it
    appends "<index> <status>" to ``results`` after each command and stops at the first
    command that does not exit as the document says. ``hosts`` maps each documented address
    to the local server standing in for it; ``after`` is bash run after every command."""
    lines = ["set -o pipefail", f"__results={shlex.quote(str(results))}"]
    run: list[Command] = []
    for fence in steps:
        if fence.mode == "file":
            text = "\n".join(fence.body)
            target = shlex.quote(fence.path)
            command = Command(fence, fence.line, f"mkdir -p \"$(dirname {target})\" && cat > {target} "
                              f"<<'{EOF_MARK}'\n{text}\n{EOF_MARK}", 0)
            todo = [command]
        elif fence.mode == "run":
            todo = commands(fence)
        else:
            continue
        for command in todo:
            lines += [f"echo '>>> {command.where}'", _redirect(command.text, hosts),
                      f"__st=$?; echo \"{len(run)} $__st\" >> \"$__results\"",
                      f"[ \"$__st\" = {command.expect} ] || exit 0", after]
            run.append(command)
    return "\n".join(lines) + "\n", run


def _redirect(text: str, hosts: dict[str, str]) -> str:
    for documented, local in hosts.items():
        text = text.replace(documented, local)
    return text
