"""``apps.lock``: every remote input pinned by content.

Under ``images``, every image shipped in a registry/ tree is pinned to the digest its
reference named when it was first pulled (or locked). Under ``inputs``, the lock maps
app → version → input id → platform (``*`` when the input is the same
for every platform) → what was resolved: the download URL, its sha256, and for charts
the chart version picked. Each entry keeps a digest of the input's rendered spec, so an
edited spec is seen as "changed since locked". Written in a stable order, so diffs read well.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from clusterbuild.errors import ConfigError
from clusterbuild.oci.digest import Digest
from clusterbuild.schema.loading import read_yaml

LOCK_FILE = "apps.lock"
HEADER = "# Written by `clusterbuild lock`: every remote input pinned by content. Commit it.\n"


@dataclass(frozen=True)
class Locked:
    spec: str  # sha256 of the rendered input spec it was resolved from
    url: str
    digest: Digest
    extra: tuple[tuple[str, str], ...] = ()  # e.g. (("chart_version", "4.10.0"),)

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.spec, "url": self.url, "sha256": self.digest.hex, **dict(self.extra)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Locked:
        extra = tuple(sorted((k, str(v)) for k, v in obj.items() if k not in ("spec", "url", "sha256")))
        return cls(str(obj["spec"]), str(obj["url"]), Digest(str(obj["sha256"])), extra)


class LockFile:
    def __init__(self, path: Path, entries: dict[tuple[str, str, str, str], Locked],
                 images: dict[str, Digest] | None = None) -> None:
        self.path = path
        self.entries = entries
        self.images = images or {}  # image reference -> root (index or manifest) digest
        self._written: tuple[dict[tuple[str, str, str, str], Locked], dict[str, Digest]] | None = None

    @classmethod
    def read(cls, root: Path) -> LockFile:
        path = root / LOCK_FILE
        if not path.exists():
            return cls(path, {})
        try:
            doc = read_yaml(path) or {}
            entries = {
                (app, version, input_id, platform): Locked.from_json(entry)
                for app, versions in doc.get("inputs", {}).items()
                for version, inputs in versions.items()
                for input_id, platforms in inputs.items()
                for platform, entry in platforms.items()}
            images = {str(ref): Digest.parse(str(digest))
                      for ref, digest in (doc.get("images") or {}).items()}
        except (yaml.YAMLError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(path, "", f"unreadable lock file ({exc})",
                              hint="restore it from version control, or delete it and run "
                                   "`clusterbuild lock`") from None
        lock = cls(path, entries, images)
        lock._written = (dict(entries), dict(images))  # what the file holds (write skips it)
        return lock

    def get(self, app: str, version: str, input_id: str, platform: str) -> Locked | None:
        return self.entries.get((app, version, input_id, platform))

    def set(self, app: str, version: str, input_id: str, platform: str, locked: Locked) -> None:
        self.entries[(app, version, input_id, platform)] = locked

    def to_text(self) -> str:
        tree: dict[str, Any] = {}
        for (app, version, input_id, platform), locked in sorted(self.entries.items()):
            tree.setdefault(app, {}).setdefault(version, {}).setdefault(input_id, {})[platform] = \
                locked.to_json()
        images = {ref: str(digest) for ref, digest in sorted(self.images.items())}
        body = yaml.safe_dump({"version": 1, "inputs": tree, "images": images}, sort_keys=True, width=120)
        return HEADER + body

    def write(self) -> bool:
        """Write if the content changed; return whether it did (a workspace that pins
        nothing gets no apps.lock)."""
        if not self.entries and not self.images and not self.path.exists():
            return False
        if self._written == (self.entries, self.images) and self.path.exists():
            return False  # as read (serialising 400 entries was 0.4 s of a no-build apply)
        text = self.to_text()
        if self.path.exists() and self.path.read_text(encoding="utf-8") == text:
            return False
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.path)
        self._written = (dict(self.entries), dict(self.images))
        return True
