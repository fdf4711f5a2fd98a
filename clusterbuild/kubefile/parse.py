"""Find and parse the recipe of an app directory with BuildKit's own parser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import dockerfile

from clusterbuild.errors import InputError

RECIPE_NAMES = ("Sealfile", "Kubefile", "Dockerfile", "Containerfile")  # sealos build's order
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(.+?)\s*$")


@dataclass(frozen=True)
class Instruction:
    command: str  # upper case: FROM, COPY, ...
    words: tuple[str, ...]
    flags: tuple[str, ...]
    json: bool
    line: int
    original: str
    heredoc: bool


@dataclass(frozen=True)
class Recipe:
    path: Path
    escape: str
    instructions: tuple[Instruction, ...]

    def where(self, instruction: Instruction) -> str:
        return f"{self.path}:{instruction.line}"


def find_recipe(app_dir: Path) -> Path:
    for name in RECIPE_NAMES:
        candidate = app_dir / name
        if candidate.is_file():
            return candidate
    raise InputError(f"{app_dir}: no Kubefile found (looked for {', '.join(RECIPE_NAMES)})",
                     hint="add a Kubefile, or create an app with `clusterbuild new`")


def _escape_directive(text: str) -> str:
    for line in text.splitlines():
        match = _DIRECTIVE.match(line)
        if not match:
            break
        if match.group(1).lower() == "escape":
            return match.group(2)
    return "\\"


def parse_recipe(path: Path) -> Recipe:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    return parse_recipe_text(text, path)


def parse_recipe_text(text: str, path: Path) -> Recipe:
    """Parse recipe ``text``; ``path`` names it in errors."""
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        raise InputError(f"{path}: cannot parse: {str(exc).strip()}",
                         hint="check the Dockerfile syntax") from None
    instructions = tuple(
        Instruction(c.cmd.upper(), tuple(c.value), tuple(c.flags), c.json, c.start_line,
                    c.original, bool(c.heredocs))
        for c in commands
    )
    return Recipe(path, _escape_directive(text), instructions)
