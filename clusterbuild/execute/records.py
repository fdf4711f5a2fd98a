"""What earlier runs recorded, read from and written to the cache (implements ``Records``)."""

from __future__ import annotations

from typing import Any

from clusterbuild.cache.results import CacheIndex
from clusterbuild.cache.store import BlobStore
from clusterbuild.execute.export import export_present
from clusterbuild.oci.digest import Digest
from clusterbuild.plan.steps import ExportStep, Step


class CacheRecords:
    def __init__(self, index: CacheIndex, store: BlobStore) -> None:
        self.index = index
        self.store = store

    def result(self, key: str) -> dict[str, Any] | None:
        return self.index.get("step", key)

    def last_run(self, slot: str) -> dict[str, Any] | None:
        return self.index.get("slot", slot)

    def outputs_present(self, step: Step, result: dict[str, Any]) -> bool:
        if isinstance(step, ExportStep):
            return export_present(step, result)
        return all(self.store.has(Digest.parse(b)) for b in result.get("blobs", []))

    def record(self, step: Step, result: dict[str, Any]) -> None:
        """Remember a completed step: its result first, then its slot's last run."""
        self.index.put("step", step.key, result)
        self.index.put("slot", step.slot, {
            "key": step.key, "implementation": step.implementation,
            "fingerprint": step.fingerprint()})
