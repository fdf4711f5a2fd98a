"""What earlier runs recorded, read from and written to the cache (implements ``Records``).

Results are decoded into their typed values here; a record that does not decode is a
warning and the step runs again, never a crash.

Each apply also keeps, in one record per workspace (``run/<root>``), every result it used:
the next run reads that one record instead of one lookup per step (2,400 lookups were a
third of a no-op plan at 400 apps). It is a copy of ``step/<key>`` records, which stay the
truth: a key it lacks is looked up as before, and ``cache gc`` drops it with any record.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from clusterbuild.cache.results import CacheIndex
from clusterbuild.cache.store import BlobStore
from clusterbuild.execute.export import export_present
from clusterbuild.execute.step_artifacts import CACHED_KINDS
from clusterbuild.places.layout import OciLayout
from clusterbuild.plan.results import ExportResult, StepResult, UndecodableResult, decode, encode
from clusterbuild.plan.steps import ExportStep, Step

if TYPE_CHECKING:
    from clusterbuild.execute.remote_cache import RemoteCache

FLUSH_RECORDS = 64  # records written per transaction
FLUSH_SECONDS = 0.5  # at the latest, this long after the first one waiting
SNAPSHOT = "run"  # namespace of the per-workspace copy of the results its last apply used


class CacheRecords:
    """Step results are recorded in batches, one transaction each (a commit per record cost
    more than the steps themselves on a cold catalogue build). A batch is written when it is
    full, half a second old, or at ``flush()``; a run killed before that runs those steps
    again, to the same content-addressed outputs."""

    def __init__(self, index: CacheIndex, store: BlobStore, workspace: Path | None = None) -> None:
        self.index = index
        self.store = store
        self._workspace = str(workspace.resolve()) if workspace is not None else None
        self._snapshot: dict[str, dict[str, object]] | None = None  # read on first use
        self._used: dict[str, dict[str, object]] = {}  # key -> encoded result, found or recorded
        self.warnings: list[str] = []
        self._layouts: dict[Path, OciLayout] = {}
        self._pending: dict[tuple[str, str], dict[str, object]] = {}
        self._since = 0.0
        self._lock = threading.RLock()  # scans record from worker threads
        self.remote: RemoteCache | None = None  # the remote step cache, when there is one

    def result(self, step: Step) -> StepResult | None:
        with self._lock:  # what this run recorded or found first: the snapshot may be older
            raw = self._pending.get(("step", step.key)) or self._used.get(step.key)
        if raw is None:
            raw = self._snapshot_of().get(step.key) or self.index.get("step", step.key)
        if raw is None:
            return self._remote_scan(step)
        try:
            result = decode(step.kind, raw)
        except UndecodableResult as exc:
            self.warnings.append(f"{step.label}: the cache's record does not decode ({exc}); "
                                 "running the step again")
            return None
        with self._lock:
            self._used[step.key] = raw
        return result

    def _snapshot_of(self) -> dict[str, dict[str, object]]:
        if self._snapshot is None:
            found = self.index.get(SNAPSHOT, self._workspace) if self._workspace else None
            with self._lock:
                self._snapshot = found if isinstance(found, dict) else {}
        return self._snapshot

    def save_snapshot(self, whole: bool) -> None:
        """Keep the results this run used for the next (``whole``: the run planned every app
        version and platform; else they are added to what the last runs kept)."""
        if self._workspace is None:
            return
        before = self._snapshot_of()
        with self._lock:
            kept = dict(self._used) if whole else {**before, **self._used}
        if kept != before:
            self.index.put(SNAPSHOT, self._workspace, kept)

    def _remote_scan(self, step: Step) -> StepResult | None:
        """A scan is computed while planning, so it is looked up remotely here (it has no
        blobs: the result is all there is), and remembered locally."""
        if self.remote is None or step.kind != "scan":
            return None
        result = self.remote.lookup_one(step)
        if result is not None:
            self.record(step, result, upload=False)
        return result

    def last_run(self, slot: str) -> dict[str, object] | None:
        pending = self._pending.get(("slot", slot))
        return pending if pending is not None else self.index.get("slot", slot)

    def outputs_present(self, step: Step, result: StepResult) -> bool:
        if isinstance(step, ExportStep) and isinstance(result, ExportResult):
            return export_present(step, result, self._layout(step.layout_dir))
        return all(self.store.has(digest) for digest in result.blobs)

    def _layout(self, root: Path) -> OciLayout:
        """One layout reader per directory, so its index.json is parsed once per change."""
        if root not in self._layouts:
            self._layouts[root] = OciLayout(root)
        return self._layouts[root]

    def record(self, step: Step, result: StepResult, upload: bool = True) -> None:
        """Remember a completed step: its result first, then its slot's last run (in one batch,
        so never a slot without its result); and upload it to the remote cache (when pushing)."""
        if upload and self.remote is not None and step.kind in CACHED_KINDS:
            self.remote.upload(step, result)
        slot = {"key": step.key, "implementation": step.implementation, "fingerprint": step.fingerprint()}
        with self._lock:
            if not self._pending:
                self._since = time.monotonic()
            self._pending[("step", step.key)] = self._used[step.key] = encode(result)
            self._pending[("slot", step.slot)] = slot
            if len(self._pending) >= 2 * FLUSH_RECORDS or time.monotonic() - self._since > FLUSH_SECONDS:
                self.flush()

    def flush(self) -> None:
        with self._lock:
            items = [(namespace, name, value) for (namespace, name), value in self._pending.items()]
            self.index.put_many(items)
            self._pending.clear()
