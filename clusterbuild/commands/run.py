"""One run over a workspace: its settings, apps.yaml and apps.lock read once, the cache
opened once, one network, and the failures and warnings met on the way.

A broken app version is a ``Failure`` of its own (``fail``), so the other apps still
lock, scan, plan and build; with ``--fail-fast`` the first failure stops the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import Enum
from typing import TYPE_CHECKING, TypeVar

from clusterbuild.cache.file_digests import FileDigests
from clusterbuild.cache.results import CacheIndex
from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import ClusterbuildError, Failure
from clusterbuild.execute.network import Network
from clusterbuild.execute.records import CacheRecords
from clusterbuild.execute.runner import StepRun
from clusterbuild.lockfile import LockFile
from clusterbuild.settings import Settings
from clusterbuild.workspace.load import LoadedWorkspace

if TYPE_CHECKING:
    from clusterbuild.execute.remote_cache import RemoteCache

T = TypeVar("T")


class Mode(Enum):
    PLAN = "plan"  # read only: no network, apps.lock and out/ untouched (scans are recorded)
    LOCK = "lock"  # pin inputs and images, fetch what scanning needs; build nothing
    APPLY = "apply"  # everything


class Run:
    def __init__(self, settings: Settings, ws: LoadedWorkspace, mode: Mode) -> None:
        self.settings = settings
        self.ws = ws
        self.mode = mode
        self.index = CacheIndex(settings.cache_dir)
        self.store = BlobStore(settings.cache_dir)
        self.records = CacheRecords(self.index, self.store, ws.root)
        self.digests = FileDigests(self.index, ws.root)
        self.lock = LockFile.read(ws.root)
        self.network = Network(settings)
        self.failures: list[Failure] = []
        self.warnings: list[str] = []
        self.ran: list[StepRun] = []  # every step run, by every phase
        self.remote = self._remote_cache()
        self.records.remote = self.remote

    def _remote_cache(self) -> RemoteCache | None:
        """The remote step cache; plan reads it but never writes to it."""
        access = self.settings.remote_cache
        if access is None:
            return None
        from clusterbuild.execute.remote_cache import IO_JOBS, RemoteCache

        if self.mode is Mode.PLAN:
            access = replace(access, push=False)
        return RemoteCache(access, self.network.client(), self.store, max(IO_JOBS, 2 * self.settings.jobs))

    def finish_remote(self) -> None:
        """Wait for uploads to the remote cache; its warnings become the run's."""
        if self.remote is not None:
            self.remote.finish()
            self.warnings += [w for w in self.remote.warnings if w not in self.warnings]

    @property
    def pins(self) -> bool:
        """May this run change apps.lock?"""
        return self.mode is not Mode.PLAN and not self.settings.frozen

    def fail(self, what: str, error: ClusterbuildError) -> None:
        """Record a broken app version; stop here with ``--fail-fast``."""
        self.failures.append(Failure(what, error))
        if self.settings.fail_fast:
            raise error

    def attempt(self, what: str, work: Callable[[], T]) -> T | None:
        """``work()``, or None after recording its error as a failure of ``what``."""
        try:
            return work()
        except ClusterbuildError as exc:
            self.fail(what, exc)
            return None

    def close(self) -> None:
        try:
            self.finish_remote()
        finally:
            self.network.close()
        try:
            self.records.flush()
        finally:
            self.index.close()


@contextmanager
def opened(settings: Settings, ws: LoadedWorkspace, mode: Mode) -> Iterator[Run]:
    run = Run(settings, ws, mode)
    try:
        yield run
    finally:
        run.close()
