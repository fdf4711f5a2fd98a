"""Render templated spec strings with jinja2: sandboxed, undefined variables are errors,
and bounded — a template builds a short string in a short time, or is refused:

* ``*`` and ``+`` may not build strings or lists longer than ``MAX_LENGTH``; ``**`` is
  refused past ``MAX_POWER_BITS`` bits of result; no call takes an integer argument above
  ``MAX_LENGTH`` (``'x'|center(10**9)``); ``range`` is jinja's sandboxed one (100 000);
* rendering stops after ``MAX_SECONDS`` (nested loops), and the result may not exceed
  ``MAX_LENGTH`` characters.

Every refusal is a ConfigError naming the file and the field, exit 3.
"""

from __future__ import annotations

import functools
import sys
import time
from functools import lru_cache
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from clusterbuild.errors import ConfigError

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

MAX_LENGTH = 1 << 20  # characters (or items) a template may build
MAX_POWER_BITS = 4096
MAX_SECONDS = 1.0
LIMIT_HINT = "templates build short strings: use a plain value here"


class TemplateLimit(Exception):
    """A template went past a bound."""


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 \
            and max(abs(left), 2).bit_length() * right > MAX_POWER_BITS:
        raise TemplateLimit(f"{left!r} ** {right!r} is too large")
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            size = _length(seq)
            if size is not None and isinstance(count, int) and size * count > MAX_LENGTH:
                raise TemplateLimit(f"repeating a value {count} times makes more than {MAX_LENGTH} items")
    if operator == "+":
        sizes = (_length(left), _length(right))
        if None not in sizes and sum(s for s in sizes if s is not None) > MAX_LENGTH:
            raise TemplateLimit(f"joining values makes more than {MAX_LENGTH} items")


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class BoundedEnvironment(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "+"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _check_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

        def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            _check_arguments(args, kwargs)
            return super().call(__context, __obj, *args, **kwargs)

    env = BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["strip_v"] = strip_v
    env.filters["cut"] = cut
    # filters are called directly by compiled templates, not through ``call``: wrap each
    env.filters = {name: _bounded(fn) for name, fn in env.filters.items()}
    return env


def _check_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_LENGTH:
            raise TemplateLimit(f"an argument of {value} is too large")


def _bounded(fn: Any) -> Any:
    @functools.wraps(fn)  # keeps jinja's pass_context/pass_environment marks
    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(args, kwargs)
        return fn(*args, **kwargs)
    return checked


def strip_v(value: str) -> str:
    """``v1.2.3`` -> ``1.2.3`` (release URLs often drop the v of the tag)."""
    return value[1:] if value[:1] in ("v", "V") and value[1:2].isdigit() else value


def cut(value: str, delimiter: str, field: int) -> str:
    """``cut -d D -f N`` of one line: the Nth field (from 1); the whole value when it holds no
    delimiter, as cut prints such a line (``'jq-1.7' | cut('v', 2)`` is ``jq-1.7``)."""
    if len(delimiter) != 1 or field < 1:
        raise ValueError("cut takes one delimiter character and a field number from 1")
    if delimiter not in value:
        return value
    parts = value.split(delimiter)
    return parts[field - 1] if field <= len(parts) else ""


def _deadline_tracer(deadline: float) -> Any:
    """A trace function that stops the render (Python lines of the compiled template) at
    ``deadline``."""
    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise TemplateLimit(f"rendering takes longer than {MAX_SECONDS:g}s")
        return trace
    return trace


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Template:
    """``text`` compiled once per run (each platform of an app renders the same texts)."""
    return _environment().from_string(text)


def _render_bounded(text: str, variables: dict[str, Any]) -> str:
    template = _compiled(text)
    previous = sys.gettrace()
    sys.settrace(_deadline_tracer(time.monotonic() + MAX_SECONDS))
    try:
        out = template.render(variables)
    finally:
        sys.settrace(previous)
    if len(out) > MAX_LENGTH:
        raise TemplateLimit(f"the result is longer than {MAX_LENGTH} characters")
    return out


def render(text: str, variables: dict[str, Any], path: Path, field: str) -> str:
    """Render ``text`` (jinja2 is imported only when the text holds template syntax)."""
    if "{{" not in text and "{%" not in text:
        return text
    from jinja2 import TemplateError, UndefinedError

    try:
        return _render_bounded(text, variables)
    except UndefinedError as exc:
        raise ConfigError(path, field, f"template: {exc.message}",
                          hint=f"available variables: {', '.join(sorted(variables))}") from None
    except TemplateError as exc:
        raise ConfigError(path, field, f"template: {exc}", hint="fix the jinja2 syntax") from None
    except TemplateLimit as exc:
        raise ConfigError(path, field, f"template refused: {exc}", hint=LIMIT_HINT) from None
    except (OverflowError, MemoryError, RecursionError, ValueError, TypeError, ArithmeticError) as exc:
        raise ConfigError(path, field, f"template fails: {type(exc).__name__}: {exc}",
                          hint=LIMIT_HINT) from None
