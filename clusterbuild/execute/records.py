"""What earlier runs recorded, read from and written to the cache (implements ``Records``).

Results are decoded into their typed values here; a record that does not decode is a
warning and the step runs again, never a crash.
"""

from __future__ import annotations

from pathlib import Path

from clusterbuild.cache.results import CacheIndex
from clusterbuild.cache.store import BlobStore
from clusterbuild.execute.export import export_present
from clusterbuild.places.layout import OciLayout
from clusterbuild.plan.results import ExportResult, StepResult, UndecodableResult, decode, encode
from clusterbuild.plan.steps import ExportStep, Step


class CacheRecords:
    def __init__(self, index: CacheIndex, store: BlobStore) -> None:
        self.index = index
        self.store = store
        self.warnings: list[str] = []
        self._layouts: dict[Path, OciLayout] = {}

    def result(self, step: Step) -> StepResult | None:
        raw = self.index.get("step", step.key)
        if raw is None:
            return None
        try:
            return decode(step.kind, raw)
        except UndecodableResult as exc:
            self.warnings.append(f"{step.label}: the cache's record does not decode ({exc}); "
                                 "running the step again")
            return None

    def last_run(self, slot: str) -> dict[str, object] | None:
        return self.index.get("slot", slot)

    def outputs_present(self, step: Step, result: StepResult) -> bool:
        if isinstance(step, ExportStep) and isinstance(result, ExportResult):
            return export_present(step, result, self._layout(step.layout_dir))
        return all(self.store.has(digest) for digest in result.blobs)

    def _layout(self, root: Path) -> OciLayout:
        """One layout reader per directory, so its index.json is parsed once per change."""
        if root not in self._layouts:
            self._layouts[root] = OciLayout(root)
        return self._layouts[root]

    def record(self, step: Step, result: StepResult) -> None:
        """Remember a completed step: its result first, then its slot's last run."""
        self.index.put("step", step.key, encode(result))
        self.index.put("slot", step.slot, {
            "key": step.key, "implementation": step.implementation,
            "fingerprint": step.fingerprint()})
