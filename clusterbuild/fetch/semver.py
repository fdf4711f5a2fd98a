"""Semantic versions (semver.org 2.0.0) as Helm reads chart versions: ordering and parsing.

Like Helm's (Masterminds) semver, a leading ``v`` and missing minor or patch numbers are
accepted: ``v1.2`` is 1.2.0. Pre-releases order below their release, identifier by
identifier: numeric ones numerically and below alphanumeric ones, and a shorter list of
equal identifiers first (1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-beta < 1.0.0-rc.2 < 1.0.0-rc.10
< 1.0.0). Build metadata (``+…``) is kept but does not order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEMVER = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)(?:\.(?P<minor>0|[1-9]\d*))?(?:\.(?P<patch>0|[1-9]\d*))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")

# A pre-release identifier's sort key: numbers (0, n, "") before words (1, 0, text).
PreKey = tuple[tuple[int, int, str], ...]


@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> SemVer | None:
        """The version ``text`` holds, or None when it is not a semantic version."""
        match = _SEMVER.match(text.strip())
        if match is None:
            return None
        pre = match.group("pre")
        return cls(int(match.group("major")), int(match.group("minor") or 0), int(match.group("patch") or 0),
                   tuple(pre.split(".")) if pre else (), match.group("build") or "")

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def key(self) -> tuple[int, int, int, int, PreKey]:
        """A sort key: releases after their pre-releases, pre-releases by identifier."""
        identifiers = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, identifiers)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        return text + (f"+{self.build}" if self.build else "")


def strip_v(version: str) -> str:
    """``v1.2.3`` -> ``1.2.3``: how the catalogue compares versions written either way."""
    version = version.strip()
    return version[1:] if version[:1] in ("v", "V") and version[1:2].isdigit() else version


def version_key(text: str) -> tuple[int, tuple[int, int, int, int, PreKey], str]:
    """Orders any version strings: semantic versions by precedence, after anything unparseable."""
    parsed = SemVer.parse(text)
    return (1, parsed.key(), text) if parsed is not None else (0, (0, 0, 0, 0, ()), text)
