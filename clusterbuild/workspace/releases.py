"""Release values: what ``releases:`` of a clusterbuild.yaml names, as apps.lock pins it.

Each release is pinned under the input id ``releases.<NAME>`` for every platform (``*``):
the URL it was read from (GitHub's API, or the download a ``url`` release reads a file of),
the value (``tag``), and the sha256 of the value. The entry keeps the digest of the release's
spec (``{github: owner/repo}``, ``{url, file, run}``), so a changed spec reads as "changed
since locked". A release not pinned yet renders as ``unlocked-<name>`` (``stand_in``): ``plan``
and ``check`` render templates without network; ``apply`` and ``lock`` resolve it first, and a
frozen build refuses the app version.
"""

from __future__ import annotations

import hashlib
import json
import re

from clusterbuild.lockfile import LockFile
from clusterbuild.schema.models import ReleaseSpec
from clusterbuild.workspace.load import AppVersion

ALL = "*"  # pinned once for every platform, as workspace.inputs.ALL
PREFIX = "releases."
TAG = "tag"


def release_id(name: str) -> str:
    return PREFIX + name


def spec_digest(spec: ReleaseSpec) -> str:
    return hashlib.sha256(json.dumps(spec.model_dump(exclude_none=True), sort_keys=True).encode()).hexdigest()


def locked_tag(lock: LockFile, av: AppVersion, name: str) -> str | None:
    """The tag apps.lock pins for release ``name`` of ``av`` (None: not locked, or its spec changed)."""
    locked = lock.get(av.app, av.version, release_id(name), ALL)
    if locked is None or locked.spec != spec_digest(av.spec.releases[name]):
        return None
    return dict(locked.extra).get(TAG)


def pinned_releases(lock: LockFile, av: AppVersion) -> tuple[tuple[str, str], ...]:
    found = ((name, locked_tag(lock, av, name)) for name in sorted(av.spec.releases))
    return tuple((name, tag) for name, tag in found if tag is not None)


def unpinned_releases(av: AppVersion) -> list[str]:
    known = dict(av.releases)
    return [name for name in sorted(av.spec.releases) if name not in known]


def release_variables(av: AppVersion) -> dict[str, str]:
    """``releases`` of the templates: each tag, or a stand-in for one not locked yet."""
    known = dict(av.releases)
    return {name: known.get(name, stand_in(name)) for name in sorted(av.spec.releases)}


def stand_in(name: str) -> str:
    """What a release not locked yet reads as: ``unlocked-<name>``, lower case with dashes, so that
    an image reference naming it (``ghcr.io/x/{{ releases.GrafanaImage }}``) still parses."""
    return "unlocked-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "value")
