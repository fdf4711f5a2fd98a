"""How ``--help`` names values: ``--platform PLATFORM``, ``--jobs N``, ``[APP[:VERSION]]...``.

Typer shows its internal type names (``<bool>`` on flags, ``<list[str]>``, ``{source}`` for
a required argument). Here an option shows its metavar, or one derived from its type as
click does (DIR, FILE, PATH, N, NUMBER, else the option's name in capitals); a flag shows
none; an argument shows its name (``[NAME]`` when optional, ``...`` when repeated).
``install()`` applies this to every command, including commands added later.
"""

from __future__ import annotations

from typing import Any

_TYPES = {"dir": "DIR", "file": "FILE", "path": "PATH", "int": "N", "int range": "N",
          "float": "NUMBER", "float range": "NUMBER"}


def option_metavar(param: Any, typed: str) -> str:
    """The metavar of an option whose typer type label is ``typed`` (e.g. ``<list[str]>``)."""
    if param.metavar:
        return str(param.metavar)
    label = typed.strip("<>")
    while label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    if label in _TYPES:
        return _TYPES[label]
    if "|" in label:  # choices
        return "[" + label + "]"
    return str(param.name or "value").upper()


def install() -> None:
    """Replace typer's display of types (once; a typer without these hooks is left as is)."""
    try:
        from typer.core import TyperArgument, TyperOption
    except ImportError:  # pragma: no cover - older typer
        return
    if getattr(TyperOption, "_clusterbuild_help", False) or not hasattr(TyperOption, "display_type"):
        return
    display_type = TyperOption.display_type

    def option_type(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) or getattr(self, "count", False):
            return None
        return option_metavar(self, display_type(self, ctx))

    def argument_type(self: Any, ctx: Any) -> str | None:
        return None

    def argument_name(self: Any) -> str:
        return str(self.metavar) if self.metavar else str(self.name).upper()

    def argument_usage(self: Any) -> str:
        name = self.display_name_raw
        if not self.required:
            name = f"[{name}]"
        return f"{name}..." if self.nargs != 1 else name

    TyperOption.display_type_rich = option_type  # type: ignore[method-assign]
    TyperArgument.display_type_rich = argument_type  # type: ignore[method-assign]
    TyperArgument.display_name_raw = property(argument_name)  # type: ignore[method-assign,assignment]
    if hasattr(TyperArgument, "_usage_display_name"):
        TyperArgument._usage_display_name = argument_usage  # type: ignore[method-assign]
    TyperOption._clusterbuild_help = True  # type: ignore[attr-defined]
