"""Render templated spec strings with jinja2: sandboxed, undefined variables are errors."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterbuild.errors import ConfigError

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=True)
    env.filters["strip_v"] = strip_v
    return env


def strip_v(value: str) -> str:
    """``v1.2.3`` -> ``1.2.3`` (release URLs often drop the v of the tag)."""
    return value[1:] if value[:1] in ("v", "V") and value[1:2].isdigit() else value


def render(text: str, variables: dict[str, Any], path: Path, field: str) -> str:
    """Render ``text`` (jinja2 is imported only when the text holds template syntax)."""
    if "{{" not in text and "{%" not in text:
        return text
    from jinja2 import TemplateError, UndefinedError

    try:
        return _environment().from_string(text).render(variables)
    except UndefinedError as exc:
        raise ConfigError(path, field, f"template: {exc.message}",
                          hint=f"available variables: {', '.join(sorted(variables))}") from None
    except TemplateError as exc:
        raise ConfigError(path, field, f"template: {exc}", hint="fix the jinja2 syntax") from None
