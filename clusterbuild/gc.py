"""``cache gc``: keep what the workspace's current plan needs, remove the rest.

Live = the recorded results of every step the workspace plans now (all apps,
versions and platforms) and the blobs they name. Everything else — results of
old keys, their blobs, records of slots no longer planned, memory of deleted
files, temp files of dead processes — is removed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from clusterbuild.cache.file_digests import FileDigests
from clusterbuild.cache.results import CacheIndex
from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.digest import Digest
from clusterbuild.workflow import Settings, plan_workspace


@dataclass(frozen=True)
class GcReport:
    blobs: int
    bytes: int
    records: int
    kept_blobs: int

    def describe(self, dry_run: bool) -> str:
        verb = "would remove" if dry_run else "removed"
        return (f"{verb} {self.blobs} blobs ({self.bytes / 1e6:.1f} MB) and {self.records} "
                f"records; {self.kept_blobs} blobs kept")


def collect_garbage(settings: Settings, dry_run: bool = False) -> GcReport:
    planned = plan_workspace(replace(settings, targets=(), platforms=()))
    index = CacheIndex(settings.cache_dir)
    store = BlobStore(settings.cache_dir)
    try:
        live_keys = {step.key for step in planned.plan.steps}
        live_slots = {step.slot for step in planned.plan.steps}
        live_blobs: set[Digest] = set()
        for key in live_keys:
            record = index.get("step", key) or {}
            live_blobs |= {Digest.parse(b) for b in record.get("blobs", [])}
        stale_records = [("step", k) for k in index.names("step") if k not in live_keys]
        stale_records += [("slot", s) for s in index.names("slot") if s not in live_slots]
        dead = [d for d in store.digests() if d not in live_blobs]
        size = sum(store.path(d).stat().st_size for d in dead)
        if not dry_run:
            for namespace, name in stale_records:
                index.delete(namespace, name)
            for digest in dead:
                store.remove(digest)
            store.clean_temp()
            FileDigests(index, planned.workspace.root).forget_missing(planned.workspace.root)
        return GcReport(len(dead), size, len(stale_records), len(live_blobs))
    finally:
        index.close()
