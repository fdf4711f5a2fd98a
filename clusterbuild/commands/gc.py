"""``cache gc``: keep what any workspace using the cache still needs, remove the rest.

Live = the recorded results of every step the workspace plans now (all apps, versions
and platforms) and the blobs they name — and the same for every other workspace recorded
as using this cache (``cache.roots``): planned again, plus what its last apply used, when
its apps.yaml is still there; else what its last apply used, while younger than
``--keep-days``. A workspace with
broken app versions also keeps what its last apply used, so fixing the app rebuilds
nothing. Everything else — results of old keys, their blobs, records of slots no longer
planned, memory of deleted files, temp files of dead processes, the records that answer
a repeated no-op (``cache.noop_records``) — is removed. Holds the
cache exclusively: no build runs meanwhile.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from clusterbuild.cache.file_digests import FileDigests
from clusterbuild.cache.leftovers import remove_leftovers
from clusterbuild.cache.noop_records import RECORDS_DIR
from clusterbuild.cache.results import CacheIndex
from clusterbuild.cache.roots import RootRecord, forget_root, recorded_roots
from clusterbuild.cache.store import BlobStore
from clusterbuild.commands.build import plan_unlocked
from clusterbuild.commands.locks import hold_cache
from clusterbuild.errors import ClusterbuildError
from clusterbuild.execute.records import SNAPSHOT
from clusterbuild.oci.digest import Digest
from clusterbuild.settings import CommandLine, Settings, read_settings
from clusterbuild.workspace.load import WORKSPACE_FILE, LoadedWorkspace, load_workspace


@dataclass(frozen=True)
class GcReport:
    blobs: int
    bytes: int
    records: int
    kept_blobs: int
    workspaces: int  # workspaces whose needs were kept

    def describe(self, dry_run: bool) -> str:
        verb = "would remove" if dry_run else "removed"
        return (f"{verb} {self.blobs} blobs ({self.bytes / 1e6:.1f} MB) and {self.records} "
                f"records; {self.kept_blobs} blobs kept for {self.workspaces} workspace"
                f"{'s' if self.workspaces != 1 else ''}")


@dataclass
class Live:
    keys: set[str]
    slots: set[str]
    workspaces: int = 0


def _needs(settings: Settings, ws: LoadedWorkspace, recorded: RootRecord | None, live: Live) -> None:
    planned = plan_unlocked(replace(settings, targets=(), platforms=()), ws)
    live.keys |= {step.key for step in planned.plan.steps}
    live.slots |= {step.slot for step in planned.plan.steps}
    if planned.failures and recorded is not None:
        live.keys |= recorded.keys
    live.workspaces += 1


def _other_workspace(settings: Settings, record: RootRecord, live: Live, now: float,
                     dry_run: bool) -> None:
    if (record.root / WORKSPACE_FILE).is_file():
        try:
            ws = load_workspace(record.root)
            other = read_settings(CommandLine(workspace=record.root, cache_dir=settings.cache_dir),
                                  ws.config, {})
            _needs(other, ws, record, live)
            live.keys |= record.keys  # what its last apply used too: its environment may differ
            return
        except ClusterbuildError:
            pass  # unreadable now: what its last apply used is kept below
    if record.age_days(now) <= settings.keep_days:
        live.keys |= record.keys
        live.workspaces += 1
    elif not dry_run:
        forget_root(record)


def collect_garbage(settings: Settings, ws: LoadedWorkspace, notify: Callable[[str], None],
                    dry_run: bool = False) -> GcReport:
    with hold_cache(settings.cache_dir, exclusive=True, timeout=settings.lock_timeout, notify=notify):
        return _collect(settings, ws, dry_run)


def _collect(settings: Settings, ws: LoadedWorkspace, dry_run: bool) -> GcReport:
    now = time.time()
    records = {r.root: r for r in recorded_roots(settings.cache_dir)}
    live = Live(set(), set())
    _needs(settings, ws, records.pop(ws.root, None), live)
    for record in records.values():
        _other_workspace(settings, record, live, now, dry_run)
    index = CacheIndex(settings.cache_dir)
    store = BlobStore(settings.cache_dir)
    try:
        live_blobs: set[Digest] = set()
        for key in live.keys:
            raw = index.get("step", key) or {}
            # "left": layers a pull leaves for its registry step (not needed, but wanted)
            live_blobs |= {Digest.parse(b) for b in (*raw.get("blobs", []), *raw.get("left", []))}
        stale = [("step", k) for k in index.names("step") if k not in live.keys]
        stale += [("slot", s) for s in index.names("slot") if s not in live.slots
                  and (index.get("slot", s) or {}).get("key") not in live.keys]
        dead = [d for d in store.digests() if d not in live_blobs]
        size = sum(store.path(d).stat().st_size for d in dead)
        held = list(store.held())  # blobs kept as a range of a registry/ layer (BlobStore.hold)
        dead_held = [d for d in held if d not in live_blobs and d not in dead]
        if not dry_run:
            for namespace, name in stale:
                index.delete(namespace, name)
            if stale:  # the per-workspace copies of step records (execute.records)
                for name in list(index.names(SNAPSHOT)):
                    index.delete(SNAPSHOT, name)
            going = set(dead)
            for digest in held:  # before their layer goes: live ones get a file of their own
                store.release(digest, going, keep=digest in live_blobs)
            for digest in dead:
                store.remove(digest)
            remove_leftovers(settings.cache_dir, settings.layout_dir)
            shutil.rmtree(settings.cache_dir / RECORDS_DIR, ignore_errors=True)  # no-op answers
            FileDigests(index, ws.root).forget_missing(ws.root)
        return GcReport(len(dead) + len(dead_held), size, len(stale), len(live_blobs), live.workspaces)
    finally:
        index.close()
