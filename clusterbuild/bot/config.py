"""The bot's settings: command-line options first, then the environment GitHub Actions sets.

    --robot NAME (repeatable)      else CLUSTERBUILD_BOT_ROBOTS=a,b   who may /imagesync
    --push / --push-to PREFIX      where /imagebuild_* publish (default: apps.yaml's registry)
    --sync-to PREFIX               where /imagesync copies to (required for /imagesync)
    --remote-cache REGISTRY/REPO   the remote step cache (else cache.remote of apps.yaml)
    --stage all|plan|publish       /imagebuild_apps in one job, or sharded by platform (shards.py)
    GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL (default https://api.github.com)

Without ``GITHUB_TOKEN`` the labels and title are taken from the event payload (and the
decision says so) and no comment can be posted.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from clusterbuild.errors import InputError
from clusterbuild.oci.reference import Reference, ReferenceError
from clusterbuild.settings import CommandLine, Settings, read_settings
from clusterbuild.workspace.load import LoadedWorkspace

ROBOTS_ENV = "CLUSTERBUILD_BOT_ROBOTS"
STAGES = ("all", "plan", "publish")
DEFAULT_API_URL = "https://api.github.com"
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class BotConfig:
    workspace: Path
    cache_dir: Path
    robots: frozenset[str] = frozenset()
    associations: frozenset[str] = frozenset()  # author associations allowed to build (empty: any)
    push: bool = False  # publish builds to apps.yaml's registry (implied by push_to)
    push_to: str | None = None  # repository prefix to publish builds under instead
    sync_to: str | None = None  # repository prefix /imagesync copies to
    insecure_registries: tuple[str, ...] = ()
    frozen: bool = False
    jobs: int = os.cpu_count() or 2
    buildah: tuple[str, ...] | None = None  # the buildah command; None: not installed
    environ: Mapping[str, str] = field(default_factory=dict)  # SOURCE_DATE_EPOCH and the like
    remote_cache: str | None = None  # REGISTRY/REPOSITORY; None: cache.remote of apps.yaml
    cache_push: bool | None = None  # upload the steps run here (None: cache.push of apps.yaml)
    stage: str = "all"  # all: build here; plan / publish: /imagebuild_apps sharded by platform

    def __post_init__(self) -> None:
        for option, prefix in (("--push-to", self.push_to), ("--sync-to", self.sync_to)):
            if prefix is not None:
                check_prefix(option, prefix)
        if self.stage not in STAGES:
            raise InputError(f"--stage {self.stage!r}: not a stage", hint=f"one of {', '.join(STAGES)}")

    @property
    def publishes(self) -> bool:
        return self.push or self.push_to is not None

    def settings(self, ws: LoadedWorkspace | None, *targets: str) -> Settings:
        """The settings of a build or sync, read like every command's."""
        typed = CommandLine(workspace=self.workspace, cache_dir=self.cache_dir, targets=targets,
                            jobs=self.jobs, insecure_registries=self.insecure_registries,
                            push=self.publishes, push_to=self.push_to, frozen=self.frozen,
                            remote_cache=self.remote_cache, cache_push=self.cache_push)
        return read_settings(typed, ws.config if ws is not None else None, self.environ)


@dataclass(frozen=True)
class GitHubAccess:
    api_url: str
    repository: str  # owner/name
    token: str

    def __post_init__(self) -> None:
        if not _REPOSITORY.fullmatch(self.repository):
            raise InputError(f"GITHUB_REPOSITORY={self.repository!r} is not owner/name",
                             hint="GitHub Actions sets it; elsewhere export it")
        if not self.api_url.startswith(("https://", "http://")):
            raise InputError(f"GITHUB_API_URL={self.api_url!r} is not an http(s) URL",
                             hint=f"unset it to use {DEFAULT_API_URL}")


def check_prefix(option: str, prefix: str) -> None:
    try:
        Reference.parse(f"{prefix.rstrip('/')}/name:tag")
    except ReferenceError:
        raise InputError(f"{option} {prefix!r} is not a repository prefix",
                         hint="e.g. registry.internal:5000/labring") from None


ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR",
                          "FIRST_TIMER", "MANNEQUIN", "NONE"})  # GitHub's author_association values


def associations_from(names: list[str]) -> frozenset[str]:
    """``--allow-association`` values, checked against GitHub's."""
    given = frozenset(name.strip().upper() for name in names if name.strip())
    unknown = sorted(given - ASSOCIATIONS)
    if unknown:
        raise InputError(f"--allow-association {unknown[0]}: not a GitHub author association",
                         hint=f"one of {', '.join(sorted(ASSOCIATIONS))}")
    return given


def robots_from(names: list[str], environ: Mapping[str, str]) -> frozenset[str]:
    """``--robot`` names, else the comma-separated ``CLUSTERBUILD_BOT_ROBOTS``."""
    given = names or environ.get(ROBOTS_ENV, "").split(",")
    return frozenset(name.strip() for name in given if name.strip())


def github_from(environ: Mapping[str, str], payload_repository: str) -> GitHubAccess | None:
    """API access from the environment, or None without a token."""
    token = environ.get("GITHUB_TOKEN", "")
    if not token:
        return None
    repository = environ.get("GITHUB_REPOSITORY") or payload_repository
    return GitHubAccess(environ.get("GITHUB_API_URL") or DEFAULT_API_URL, repository, token)


def find_buildah(environ: Mapping[str, str]) -> tuple[str, ...] | None:
    """The buildah command on ``PATH``, or None."""
    found = shutil.which("buildah", path=environ.get("PATH", os.defpath))
    return (found,) if found else None
