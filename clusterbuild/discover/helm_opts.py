"""Helm value flags: read from a Kubefile's ENV, and turned into values.

A Kubefile often carries the install's options in an ENV (``ENV HELM_OPTS="--set
ingress.enabled=true -f charts/web-prod.yaml"``, used as ``helm upgrade -i web
charts/web $HELM_OPTS``): the images those values turn on are missed by sealos
(sealos#1973). ``helm_opts_from_env`` extracts the value flags as pairs for
``DiscoverOptions.helm_set``; ``values_from_flags`` merges them as Helm does.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from clusterbuild.errors import InputError

# Flags that carry values, by their canonical name, in Helm's merge order.
VALUE_FLAGS = ("-f", "--set-json", "--set", "--set-string", "--set-literal")
_ALIASES = {"--values": "-f", "-f": "-f", **{flag: flag for flag in VALUE_FLAGS[1:]}}
Parser = Callable[[str], dict[str, Any]]
_ENV_NAME = re.compile(r"HELM.*(OPT|ARG|FLAG|SET|VALUE)", re.IGNORECASE)


def is_helm_opts(name: str) -> bool:
    """Is the ENV ``name`` one that carries Helm options (HELM_OPTS, HELM_ARGS, ...)?"""
    return bool(_ENV_NAME.search(name))


def helm_opts_from_env(env: Mapping[str, str]) -> tuple[str, ...]:
    """``("--set", "a=1", "-f", "x.yaml", …)`` from ENV values named like ``HELM_OPTS``.

    Names containing HELM and OPT/ARG/FLAG/SET/VALUE are read, in sorted order; other
    flags (``--namespace x``, ``--wait``) are ignored. A value that is not valid shell
    quoting is an InputError.
    """
    pairs: list[str] = []
    for name in sorted(key for key in env if _ENV_NAME.search(key)):
        try:
            words = shlex.split(env[name])
        except ValueError as exc:
            raise InputError(f"ENV {name}: cannot split {env[name]!r} into words ({exc})",
                             hint="balance the quotes in the value") from None
        pairs.extend(flag_pairs(words))
    return tuple(pairs)


def flag_pairs(words: list[str]) -> list[str]:
    """The value flags of a word list, as canonical flag/value pairs."""
    pairs: list[str] = []
    position = 0
    while position < len(words):
        word = words[position]
        flag, equals, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if flag not in _ALIASES and word.startswith("-f") and len(word) > 2 and not word.startswith("--"):
            flag, equals, value = "-f", "=", word[2:]  # -fvalues.yaml
        position += 1
        if flag not in _ALIASES:
            continue
        if not equals:
            if position >= len(words):
                raise InputError(f"{flag} has no value", hint=f"write {flag} <value>")
            value, position = words[position], position + 1
        pairs.extend((_ALIASES[flag], value))
    return pairs


def values_from_flags(helm_set: tuple[str, ...], files: Mapping[str, Path],
                      parsers: Mapping[str, Parser]) -> dict[str, Any]:
    """Values of the flag pairs, merged as Helm does: every ``-f`` in order, then
    ``--set-json``, ``--set``, ``--set-string``, ``--set-literal``.

    ``-f`` paths are context-relative keys of ``files`` (absolute paths and URLs are
    install-time files, left out); ``parsers`` maps each flag
    to Helm's own parser (helm_python.values_from_yaml, parse_set_string, …).
    """
    pairs = flag_pairs(list(helm_set))
    merged: dict[str, Any] = {}
    for kind in VALUE_FLAGS:
        for flag, value in zip(pairs[::2], pairs[1::2], strict=True):
            if flag != kind:
                continue
            layer = _values_file(value, files, parsers) if flag == "-f" else _parse(flag, value, parsers)
            merged = merge_values(merged, layer)
    return merged


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: maps merge key by key, anything else in ``override`` replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def _values_file(name: str, files: Mapping[str, Path],
                 parsers: Mapping[str, Parser]) -> dict[str, Any]:
    """A context file's values; {} for what exists only at install time (an absolute
    path, a URL, ``-`` for stdin): the build cannot read those."""
    if name.startswith("/") or "://" in name or name == "-":
        return {}
    key = name.removeprefix("./")
    if key not in files:
        raise InputError(f"-f {name}: no such file in the build context",
                         hint="give values files as paths relative to the context, e.g. charts/web-prod.yaml")
    try:
        return parsers["-f"](files[key].read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{key}: not a values file ({str(exc).splitlines()[0]})",
                         hint="a values file is a YAML map") from None


def _parse(flag: str, expression: str, parsers: Mapping[str, Parser]) -> dict[str, Any]:
    try:
        return parsers[flag](expression)
    except ValueError as exc:
        raise InputError(f"{flag} {expression}: {exc}",
                         hint="write key.path=value pairs, comma separated") from None
