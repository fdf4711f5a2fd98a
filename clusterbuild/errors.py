"""The one error tree of clusterbuild.

Every error a user can cause or meet is a ``ClusterbuildError``; only the CLI
turns them into exit codes. Each message is one line: what happened, where,
and (``hint``) what to do about it.

    ClusterbuildError            exit 1
    ├── UsageError               exit 2  options that select nothing
    ├── InputError               exit 3  bad workspace, spec, Kubefile, arguments
    │   └── ConfigError                  a file failed validation (file + field path)
    ├── BuildError               exit 4  a step failed while running
    ├── CacheError               exit 5  the cache cannot be used (permissions, disk)
    └── VerificationError        exit 6  ``verify``: no valid signature of the image by the key
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ClusterbuildError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class UsageError(ClusterbuildError):
    """The command line asks for what cannot be (exit 2, like the parser's own errors)."""

    exit_code = 2


class InputError(ClusterbuildError):
    exit_code = 3


class ConfigError(InputError):
    """A file of the workspace is invalid: names the file, the field path and the fix."""

    def __init__(self, path: Path | str, field: str, problem: str, *, hint: str = "") -> None:
        where = f"{path}: {field}" if field else f"{path}"
        super().__init__(f"{where}: {problem}", hint=hint)
        self.path = str(path)
        self.field = field


class BuildError(ClusterbuildError):
    exit_code = 4


class CacheError(ClusterbuildError):
    exit_code = 5


class VerificationError(ClusterbuildError):
    """The image REF names now has no signature the key verifies (``clusterbuild verify``)."""

    exit_code = 6


EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C)
EXIT_TERMINATED = 143  # SIGTERM


@dataclass(frozen=True)
class Failure:
    """One broken app version (or one platform of it); the others still build."""

    what: str  # "app:v1" or "app:v1 [linux/arm64]"
    error: ClusterbuildError

    def __str__(self) -> str:
        message = str(self.error)
        return message if message.startswith(self.what) else f"{self.what}: {message}"


def exit_code_of(failures: list[Failure] | tuple[Failure, ...]) -> int:
    """The exit code of a run with ``failures``: bad input (3) when every failure is bad
    input, else the first other failure's code."""
    codes = [f.error.exit_code for f in failures]
    if not codes:
        return 0
    others = [c for c in codes if c != InputError.exit_code]
    return others[0] if others else InputError.exit_code


def error_json(error: ClusterbuildError) -> dict[str, Any]:
    """The error object of JSON output (docs/json.md): type, message, hint, exit code."""
    return {"type": type(error).__name__, "message": error.message, "hint": error.hint,
            "exit_code": error.exit_code}
