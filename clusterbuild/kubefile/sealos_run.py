"""What ``sealos run`` executes for an image: each ENTRYPOINT and CMD element as its own
shell command on the first master (a leading ``/bin/sh -c`` stripped), after ``$(VAR)``,
``${VAR}`` and ``$VAR`` are replaced from the image ENV merged with ``-e`` values. A variable
neither sets is left as written (the shell may still expand it)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_VARIABLE = re.compile(r"\$\((\w+)\)|\$\{(\w+)\}|\$(\w+)")
_SHELL = ("/bin/sh", "-c")


def env_map(env: Sequence[str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``["A=1", "B=x=y"]`` as a map, with ``extra`` (the ``-e`` values) on top."""
    out = dict(item.partition("=")[::2] for item in env)
    return out | dict(extra or {})


def expand(command: str, values: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return values.get(name, match.group(0))

    return _VARIABLE.sub(replace, command)


def _strip_shell(elements: Sequence[str]) -> list[str]:
    items = list(elements)
    return items[2:] if tuple(items[:2]) == _SHELL else items


def sealos_commands(entrypoint: Sequence[str], cmd: Sequence[str], env: Sequence[str],
                    extra: Mapping[str, str] | None = None) -> list[str]:
    values = env_map(env, extra)
    return [expand(element, values) for element in _strip_shell(entrypoint) + _strip_shell(cmd)]
