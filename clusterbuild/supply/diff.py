"""What changed between two versions of an app: images added, removed, re-tagged or
re-digested (by repository), charts and binaries whose version or content changed, chart
values edited, and what a site holding the old version must transfer. Pure: inventories,
values and sizes in, a ``ReleaseDiff`` out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clusterbuild.supply.inventory import ImageItem, InputItem, Inventory


@dataclass(frozen=True)
class Change:
    what: str  # "image", "chart", "binary", "file", "values"
    name: str
    old: str  # "" when added
    new: str  # "" when removed

    @property
    def sign(self) -> str:
        return "+" if not self.old else "-" if not self.new else "~"

    def line(self) -> str:
        if not self.old:
            return f"+ {self.what} {self.name}: {self.new}"
        if not self.new:
            return f"- {self.what} {self.name}: {self.old}"
        return f"~ {self.what} {self.name}: {self.old} -> {self.new}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.what, "name": self.name, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Sizes:
    image: int  # bytes of every blob of the new version (all platforms)
    transfer: int  # bytes a site with the old version must receive (a --have delta bundle)
    blobs: int  # how many blobs that is


@dataclass(frozen=True)
class ReleaseDiff:
    old: str
    new: str
    changes: tuple[Change, ...]
    sizes: Sizes | None = None
    notes: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        out = [f"{self.old} -> {self.new}: {len(self.changes) or 'no'} change"
               + ("s" if len(self.changes) != 1 else "")]
        out += [f"  {c.line()}" for c in self.changes]
        if self.sizes is not None:
            out.append(f"  size {_bytes(self.sizes.image)}; a site with {self.old} transfers "
                       f"{_bytes(self.sizes.transfer)} ({self.sizes.blobs} blobs)")
        out += [f"  note: {n}" for n in self.notes]
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"old": self.old, "new": self.new,
                               "changes": [c.to_json() for c in self.changes], "notes": list(self.notes)}
        if self.sizes is not None:
            out["size"] = self.sizes.image
            out["transfer"] = {"bytes": self.sizes.transfer, "blobs": self.sizes.blobs}
        return out


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12] if digest else "unpinned"


def _repository(ref: str) -> str:
    name = ref.split("@", 1)[0]
    return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name


def _tag(ref: str) -> str:
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def image_changes(old: tuple[ImageItem, ...], new: tuple[ImageItem, ...]) -> list[Change]:
    """By repository: added, removed, or re-tagged / re-digested."""
    before = {_repository(i.reference): i for i in old}
    after = {_repository(i.reference): i for i in new}
    out = []
    for repo in sorted(before.keys() | after.keys()):
        a, b = before.get(repo), after.get(repo)
        if a is None or b is None or (a.reference, a.root) != (b.reference, b.root):
            out.append(Change("image", repo, _show_image(a), _show_image(b)))
    return out


def _show_image(item: ImageItem | None) -> str:
    return f"{_tag(item.reference)}@{_short(item.root)}" if item else ""


def _show_input(item: InputItem | None) -> str:
    return (f"{item.version} " if item.version else "") + _short(item.sha256) if item else ""


def _input_key(item: InputItem) -> tuple[str, str, str]:
    return (item.kind, item.name, item.platform)


def input_changes(old: tuple[InputItem, ...], new: tuple[InputItem, ...]) -> list[Change]:
    before = {_input_key(i): i for i in old}
    after = {_input_key(i): i for i in new}
    out = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a is None or b is None or (a.version, a.sha256) != (b.version, b.sha256):
            where = "" if key[2] == "*" else f" [{key[2]}]"
            out.append(Change(key[0], key[1] + where, _show_input(a), _show_input(b)))
    return out


def flatten(values: Any, prefix: str = "") -> dict[str, str]:
    """Dotted keys of a values tree, each leaf as compact text."""
    if isinstance(values, Mapping) and values:
        out: dict[str, str] = {}
        for k, v in values.items():
            out |= flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return {prefix: repr(values) if not isinstance(values, str) else values}


def values_changes(chart: str, old: Any, new: Any, limit: int = 20) -> list[Change]:
    a, b = flatten(old), flatten(new)
    keys = [k for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
    out = [Change("values", f"{chart} {k}", a.get(k, ""), b.get(k, "")) for k in keys[:limit]]
    if len(keys) > limit:
        out.append(Change("values", f"{chart} …", f"{len(keys) - limit} more keys", "changed"))
    return out


def release_diff(old: Inventory, new: Inventory, values: Mapping[str, tuple[Any, Any]] | None = None,
                 sizes: Sizes | None = None, notes: tuple[str, ...] = ()) -> ReleaseDiff:
    """``values``: chart name -> (old values, new values), for charts known on both sides."""
    changes = image_changes(old.images, new.images) + input_changes(old.inputs, new.inputs)
    for chart, (a, b) in sorted((values or {}).items()):
        changes += values_changes(chart, a, b)
    return ReleaseDiff(old.name, new.name, tuple(changes), sizes, notes)
