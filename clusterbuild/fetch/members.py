"""Which archive members are extracted, and where they land: names checked, selected, stripped.

Member names are refused when absolute or holding a ``..`` component, whether selected or
not: such an archive is broken or hostile. Selection follows GNU tar: a requested member is
an archive path (``./`` and trailing ``/`` ignored) naming a file or a whole directory, or a
glob (``*/bin/helm``, ``*`` also matching ``/``); ``strip_components`` then drops leading path
components, and a member with nothing left is skipped. Links are resolved in the stripped tree.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

from clusterbuild.errors import InputError


class ArchiveRefused(InputError):
    """The archive is hostile or too large: bad input (exit 3), and it is not kept."""


SHOWN_NAMES = 8
REFUSED = "the archive is broken or hostile, so it was refused"
_GLOB = re.compile(r"[*?\[]")
_DRIVE = re.compile(r"^[A-Za-z]:[/\\]")


def clean_name(name: str, doing: str) -> str:
    """A member name as a relative '/'-separated path; absolute paths and ``..`` are refused."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise ArchiveRefused(f"{doing}: member {name!r} has an absolute path", hint=REFUSED)
    if ".." in re.split(r"[/\\]", name):
        raise ArchiveRefused(f"{doing}: member {name!r} has a '..' component", hint=REFUSED)
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def link_inside(path: str, target: str, doing: str) -> str:
    """``target`` of the symlink at ``path``, when it stays inside the extracted tree."""
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise ArchiveRefused(f"{doing}: symlink {path!r} -> {target!r} points outside the archive",
                             hint=REFUSED)
    return target


class Selection:
    """The requested members and the stripping, and what the archive turned out to hold."""

    def __init__(self, members: Sequence[str] | None, strip_components: int, doing: str) -> None:
        if strip_components < 0:
            raise ValueError("strip_components must be >= 0")
        self.doing = doing
        self.strip = strip_components
        self.wanted = None if members is None else {_pattern(m): False for m in members}
        self.seen: list[str] = []

    def target(self, name: str) -> str | None:
        """Where member ``name`` lands in the tree, or None when it is not extracted."""
        clean = clean_name(name, self.doing)
        if not clean:
            return None  # the archive's root directory
        self.seen.append(clean)
        if self.wanted is not None:
            match = next((w for w in self.wanted if _matches(w, clean)), None)
            if match is None:
                return None
            self.wanted[match] = True
        return self.stripped(clean)

    def stripped(self, clean: str) -> str | None:
        parts = clean.split("/")
        return "/".join(parts[self.strip:]) if len(parts) > self.strip else None

    def check_found(self) -> None:
        """Every requested member matched something; else name it and some of what is there."""
        missing = [w for w, found in (self.wanted or {}).items() if not found]
        if not missing:
            return
        shown = ", ".join(self.seen[:SHOWN_NAMES]) or "nothing"
        more = f" (and {len(self.seen) - SHOWN_NAMES} more)" if len(self.seen) > SHOWN_NAMES else ""
        raise InputError(f"{self.doing}: no member {missing[0]!r} in the archive; it has: {shown}{more}",
                         hint="fix the member path (archive paths, before strip_components)")


def _pattern(member: str) -> str:
    if _GLOB.search(member):
        return member.removeprefix("./").rstrip("/")
    return "/".join(part for part in member.split("/") if part not in ("", "."))


def _matches(wanted: str, clean: str) -> bool:
    if _GLOB.search(wanted):
        return fnmatchcase(clean, wanted) or any(
            fnmatchcase("/".join(clean.split("/")[:i]), wanted) for i in range(1, clean.count("/") + 1))
    return clean == wanted or clean.startswith(wanted + "/")
