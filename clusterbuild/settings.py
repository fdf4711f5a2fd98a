"""Options in one place: what the user typed, over apps.yaml, over the environment, over
the defaults — read once into one frozen ``Settings`` that every command receives.

    command line      --cache-dir, --platform, --jobs, --insecure-registry, --archive, ...
    apps.yaml         registries:, downloads:, output:, registry
    environment       CLUSTERBUILD_CACHE_DIR, SOURCE_DATE_EPOCH, CLUSTERBUILD_LOCK_TIMEOUT,
                      CLUSTERBUILD_SIGN_PASSWORD (kept out of every repr)
    defaults          <workspace>/cache, mtime 0, jobs = cores, wait for locks forever

Nothing below the command layer reads the environment or apps.yaml's access settings
again: registry access, download mirrors and output choices come from here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from clusterbuild.errors import InputError
from clusterbuild.oci.platform import Platform
from clusterbuild.oci.reference import Reference, ReferenceError
from clusterbuild.schema.models import Workspace

CACHE_ENV = "CLUSTERBUILD_CACHE_DIR"
LOCK_TIMEOUT_ENV = "CLUSTERBUILD_LOCK_TIMEOUT"
EPOCH_ENV = "SOURCE_DATE_EPOCH"
SIGN_PASSWORD_ENV = "CLUSTERBUILD_SIGN_PASSWORD"
DEFAULT_KEEP_DAYS = 30.0
DEFAULT_TIMEOUT = 900.0


@dataclass(frozen=True)
class RegistryAccess:
    """How registries are reached (pulls, pushes, sync, OCI charts)."""

    insecure: frozenset[str] = frozenset()  # hosts reached over plain HTTP
    ca_file: Path | None = None  # extra CA bundle
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class DownloadAccess:
    """How remote inputs are downloaded."""

    mirrors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # URL prefixes
    jobs: int = 4


@dataclass(frozen=True)
class ScriptSandbox:
    """How init.sh scripts run (``execute.scripts``)."""

    enabled: bool = True  # in bubblewrap; False: as the invoking user (apps.yaml scripts.sandbox)
    bwrap: str | None = None  # bubblewrap's absolute path ($CLUSTERBUILD_BWRAP); None: the standard places
    hidden: tuple[Path, ...] = ()  # hidden under empty tmpfs: HOME, /root, config dirs, the cache
    passed_env: tuple[tuple[str, str], ...] = ()  # proxies and TZ, the only variables passed on


PASSED_ENV = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "TZ")
BWRAP_ENV = "CLUSTERBUILD_BWRAP"


@dataclass(frozen=True)
class CommandLine:
    """What was typed; None (or empty) means "not given": a lower layer decides."""

    workspace: Path = Path(".")
    cache_dir: Path | None = None
    targets: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    jobs: int | None = None
    insecure_registries: tuple[str, ...] = ()
    archive: bool = False
    multi_archive: bool = False
    docker_archive: bool = False
    push: bool = False
    push_to: str | None = None
    frozen: bool = False
    fail_fast: bool = False
    lock_timeout: float | None = None
    keep_days: float | None = None
    unsandboxed: bool = False
    timeout: float | None = None
    remote_cache: str | None = None
    cache_push: bool | None = None
    shard: bool = False
    sign_key: Path | None = None


@dataclass(frozen=True)
class SigningAccess:
    """How pushed indexes are signed (``--sign-key``): the key file and, for an encrypted key,
    its password. Neither is part of any step key, lock or image; the password is in no repr."""

    key: Path  # absolute
    password: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class RemoteCacheAccess:
    """The remote step cache: an OCI repository (``execute.remote_cache``)."""

    registry: str  # e.g. ghcr.io, 127.0.0.1:5000
    repository: str  # e.g. labring/clusterbuild-cache
    push: bool = False  # upload the steps this machine runs

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}"


@dataclass(frozen=True)
class Settings:
    workspace: Path  # absolute
    cache_dir: Path  # absolute
    targets: tuple[str, ...] = ()
    platforms: tuple[Platform, ...] = ()
    jobs: int = 2
    registries: RegistryAccess = RegistryAccess()
    downloads: DownloadAccess = DownloadAccess()
    registry: str = ""  # the workspace's repository prefix (apps.yaml), e.g. docker.io/labring
    layout: str = "out"  # the OCI layout, relative to the workspace
    archive: bool = False  # an oci-archive per platform image (sealos load)
    multi_archive: bool = False  # one oci-archive per app version with the index
    docker_archive: bool = False
    layer_compression: str = "gzip"  # apps.yaml output.layer_compression: gzip or zstd
    push_to: str | None = None  # where apply pushes (None: no push)
    frozen: bool = False  # CI: apps.lock must pin everything and is never changed
    fail_fast: bool = False  # stop at the first broken app or failed step
    mtime: int = 0  # SOURCE_DATE_EPOCH for every timestamp written
    epoch_given: bool = False  # SOURCE_DATE_EPOCH was set: it is `created` too (else: commit times)
    lock_timeout: float | None = None  # seconds to wait for the workspace/cache locks; None: forever
    keep_days: float = DEFAULT_KEEP_DAYS  # cache gc: keep what vanished workspaces used this recently
    scripts: ScriptSandbox = ScriptSandbox()
    timeout: float = DEFAULT_TIMEOUT  # seconds one transfer may take in all (--timeout)
    remote_cache: RemoteCacheAccess | None = None  # None: local cache only
    shard: bool = False  # a CI shard: push each platform's -<arch> image only, no index, no layout
    signing: SigningAccess | None = None  # sign each pushed index (--sign-key)

    @property
    def layout_dir(self) -> Path:
        return self.workspace / self.layout


def read_settings(typed: CommandLine, config: Workspace | None,
                  environ: Mapping[str, str]) -> Settings:
    """The one reader: ``typed`` over ``config`` (apps.yaml, when there is one) over
    ``environ`` over the defaults."""
    root = typed.workspace.resolve()
    cache = typed.cache_dir or (Path(environ[CACHE_ENV]) if environ.get(CACHE_ENV) else root / "cache")
    jobs = typed.jobs or os.cpu_count() or 2
    registry = config.registry if config is not None else ""
    push_to = (typed.push_to or registry or None) if typed.push or typed.push_to else None
    return Settings(
        workspace=root, cache_dir=cache.resolve(), targets=typed.targets,
        platforms=_platforms(typed.platforms), jobs=jobs,
        registries=_registry_access(typed, config, root, jobs),
        downloads=_download_access(config), registry=registry,
        layout=config.output.layout if config is not None else "out",
        archive=typed.archive or bool(config and config.output.archive is True),
        multi_archive=typed.multi_archive or bool(config and config.output.archive == "multi"),
        docker_archive=typed.docker_archive or bool(config and config.output.docker_archive),
        layer_compression=config.output.layer_compression if config is not None else "gzip",
        push_to=push_to, frozen=typed.frozen, fail_fast=typed.fail_fast,
        mtime=_epoch(environ), epoch_given=bool(environ.get(EPOCH_ENV)),
        lock_timeout=_lock_timeout(typed, environ),
        keep_days=typed.keep_days if typed.keep_days is not None else DEFAULT_KEEP_DAYS,
        scripts=_sandbox(typed, config, environ, cache.resolve()),
        timeout=typed.timeout if typed.timeout is not None else DEFAULT_TIMEOUT,
        remote_cache=_remote_cache(typed, config), shard=typed.shard,
        signing=SigningAccess(typed.sign_key.expanduser().resolve(), environ.get(SIGN_PASSWORD_ENV) or None)
        if typed.sign_key is not None else None)


def _remote_cache(typed: CommandLine, config: Workspace | None) -> RemoteCacheAccess | None:
    spec = config.cache if config is not None else None
    where = typed.remote_cache or (spec.remote if spec else None)
    if not where:
        return None
    push = typed.cache_push if typed.cache_push is not None else bool(spec and spec.push)
    try:
        ref = Reference.parse(where)
    except ReferenceError as exc:
        raise InputError(f"--remote-cache: {exc}", hint="e.g. --remote-cache ghcr.io/me/cache") from None
    if ref.digest is not None or ref.tag != "latest" or where.endswith(":latest") or "/" not in where:
        raise InputError(f"--remote-cache {where!r}: expected REGISTRY/REPOSITORY, no tag or digest",
                         hint="e.g. --remote-cache ghcr.io/me/cache")
    return RemoteCacheAccess(ref.registry, ref.repository, push)


def _sandbox(typed: CommandLine, config: Workspace | None, environ: Mapping[str, str],
             cache: Path) -> ScriptSandbox:
    enabled = not typed.unsandboxed and (config is None or config.scripts.sandbox)
    private = [environ.get("HOME", ""), "/root", "/home", "/run/user", environ.get("XDG_RUNTIME_DIR", ""),
               environ.get("XDG_CONFIG_HOME", ""), environ.get("DOCKER_CONFIG", ""),
               os.path.dirname(environ.get("REGISTRY_AUTH_FILE", ""))]
    hidden = (*dict.fromkeys(Path(p) for p in private if p and os.path.isabs(p)), cache)
    passed = tuple((k, environ[k]) for k in PASSED_ENV if k in environ)
    return ScriptSandbox(enabled, environ.get(BWRAP_ENV) or None, hidden, passed)


def _platforms(given: tuple[str, ...]) -> tuple[Platform, ...]:
    try:
        return tuple(Platform.parse(p) for p in given)
    except ValueError as exc:
        raise InputError(f"--platform: {exc}", hint="e.g. --platform linux/arm64") from None


def _registry_access(typed: CommandLine, config: Workspace | None, root: Path, jobs: int) -> RegistryAccess:
    spec = config.registries if config is not None else None
    insecure = frozenset((*(spec.insecure if spec else ()), *typed.insecure_registries))
    ca_file = root / spec.ca_file if spec and spec.ca_file else None
    mirrors = {host: tuple(hosts) for host, hosts in spec.mirrors.items()} if spec else {}
    return RegistryAccess(insecure, ca_file, MappingProxyType(mirrors))


def _download_access(config: Workspace | None) -> DownloadAccess:
    if config is None:
        return DownloadAccess()
    return DownloadAccess(MappingProxyType(dict(config.downloads.mirrors)), config.downloads.jobs)


def _epoch(environ: Mapping[str, str]) -> int:
    value = environ.get(EPOCH_ENV, "0") or "0"
    if not value.isdigit():
        raise InputError(f"{EPOCH_ENV}={value!r} is not a number of seconds",
                         hint="unset it or set it to e.g. 0")
    return int(value)


def _lock_timeout(typed: CommandLine, environ: Mapping[str, str]) -> float | None:
    if typed.lock_timeout is not None:
        return typed.lock_timeout
    value = environ.get(LOCK_TIMEOUT_ENV, "")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        raise InputError(f"{LOCK_TIMEOUT_ENV}={value!r} is not a number of seconds",
                         hint="e.g. 600, or unset it to wait as long as it takes") from None
