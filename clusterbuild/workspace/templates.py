"""Render templated spec strings with jinja2: sandboxed, undefined variables are errors."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from clusterbuild.errors import ConfigError


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                keep_trailing_newline=True)


def render(text: str, variables: dict[str, Any], path: Path, field: str) -> str:
    if "{{" not in text and "{%" not in text:
        return text
    try:
        return _environment().from_string(text).render(variables)
    except UndefinedError as exc:
        raise ConfigError(path, field, f"template: {exc.message}",
                          hint=f"available variables: {', '.join(sorted(variables))}") from None
    except TemplateError as exc:
        raise ConfigError(path, field, f"template: {exc}", hint="fix the jinja2 syntax") from None
