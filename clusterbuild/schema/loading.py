"""Read YAML files into schema models with one-line errors naming file, field and fix."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from clusterbuild.errors import ConfigError
from clusterbuild.schema.bounded_yaml import YamlLimit, load_bounded
from clusterbuild.schema.models import INPUT_KINDS

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"cannot read: {exc}") from None
    try:
        return load_bounded(text)
    except YamlLimit as exc:
        where = f"{exc.field} (line {exc.line})" if exc.field else f"line {exc.line}"
        raise ConfigError(path, where, exc.problem, hint=exc.hint) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, where, f"malformed YAML: {problem}",
                          hint="fix the YAML syntax at that position") from None


def load_model(model: type[M], path: Path, data: Any = None) -> M:
    data = read_yaml(path) if data is None else data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, "", f"expected a mapping at the top, found {type(data).__name__}",
                          hint=f"see `clusterbuild schema` for the shape of {path.name}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _config_error(model, path, exc) from None


def field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _config_error(model: type[BaseModel], path: Path, exc: ValidationError) -> ConfigError:
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc = tuple(p for p in first["loc"] if not _is_union_tag(p))
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        known = _fields_at(model, loc[:-1])
        name = str(loc[-1])
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        return ConfigError(path, field_path(loc), f"unknown key{more}", hint=hint)
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return ConfigError(path, field_path(loc), f"required field is missing{more}",
                           hint="add it; see `clusterbuild schema`")
    return ConfigError(path, field_path(loc), f"{msg}{more}",
                       hint="see `clusterbuild schema` for allowed values")


_UNION_TAGS = {get_args(kind.model_fields["kind"].annotation)[0] for kind in INPUT_KINDS}


def _is_union_tag(part: int | str) -> bool:
    """Pydantic puts the discriminator value of a tagged union into error paths; drop it."""
    return isinstance(part, str) and part in _UNION_TAGS


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names of the model found by walking ``loc`` from ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            current = _inner_model(current)
            fields = getattr(current, "model_fields", {})
            if part not in fields:
                continue  # a dict key (an app name)
        current = _inner_model(fields[part].annotation)
    return sorted(getattr(current, "model_fields", {}))


def _inner_model(annotation: Any) -> Any:
    """The BaseModel inside list[...], dict[..., ...], Optional[...] and Annotated[...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in reversed(getattr(annotation, "__args__", ()) or ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    origin = getattr(annotation, "__origin__", None)
    return _inner_model(origin) if origin is not None and origin is not annotation else None
