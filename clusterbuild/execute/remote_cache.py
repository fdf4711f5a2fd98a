"""The remote step cache: step records and blobs in one OCI repository (``step_artifacts``).

    lookup   GET the artifact manifest tagged from each step key (the record is embedded in
             it; its blob is fetched only from an artifact without it)
    fetch    the blobs a consumer needs (``plan.demand.Need``), each verified by its digest
    upload   after a step ran (when pushing is allowed): blobs (HEAD first, else a mount,
             else an upload), the record, then the manifest under its tag

Every problem with the remote cache (unreachable, refused, missing, corrupt, another
step's record) is a warning and the step runs locally: never a failure of the build.
A remote cache that cannot be connected to (refused, no route, timeout) is given up for the
rest of the run at the first such error: one warning, and every later look-up, fetch and
upload is skipped at once (1,200 look-ups each retrying against a dead registry took
minutes). Credentials are those of pushes (``Credentials``); no message carries them. Uploads run
in the background, at most ``jobs`` at a time, and ``finish`` waits for them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import ClusterbuildError
from clusterbuild.execute.step_artifacts import (
    ArtifactParts,
    BadArtifact,
    artifact_parts,
    read_record,
    step_artifact,
    step_tag,
)
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor
from clusterbuild.oci.reference import Reference
from clusterbuild.places.registry import RegistryClient
from clusterbuild.places.registry.errors import RegistryError
from clusterbuild.plan.demand import Need
from clusterbuild.plan.results import ImageResult, IndexResult, LayerResult, StepResult
from clusterbuild.plan.steps import Step
from clusterbuild.settings import RemoteCacheAccess

# Requests to the remote cache in flight at once: each look-up and fetch waits on the network
# (the GIL is released meanwhile), so more of them than cores keep a CI runner busy.
IO_JOBS = 16
UNREACHABLE = frozenset({"CONNECTION", "TIMEOUT", "TLS"})  # error codes that give the remote cache up


def needed_blobs(result: StepResult, need: Need) -> tuple[Digest, ...]:
    """The blobs of ``result`` a consumer needing ``need`` must have locally."""
    if need is Need.BLOBS:
        return (result.layer.digest,) if isinstance(result, LayerResult) else tuple(result.blobs)
    if need is Need.METADATA and isinstance(result, ImageResult):
        return (result.manifest.digest, result.config.digest)
    if need is Need.METADATA and isinstance(result, IndexResult):
        return (result.index.digest,)
    return ()


@dataclass
class Traffic:
    """What moved, for the summary and benchmarks."""

    records: int = 0  # records read
    blobs: int = 0  # blobs fetched (small ones come embedded in the look-up: no request)
    bytes: int = 0  # bytes of records, manifests and blobs fetched
    blob_bytes: int = 0  # of which blobs fetched by a request of their own
    uploads: int = 0  # records written
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, records: int = 0, blobs: int = 0, size: int = 0, uploads: int = 0) -> None:
        with self.lock:
            self.records += records
            self.blobs += blobs
            self.bytes += size
            self.blob_bytes += size if blobs else 0
            self.uploads += uploads


class RemoteCache:
    def __init__(self, access: RemoteCacheAccess, client: RegistryClient, store: BlobStore,
                 jobs: int = 4) -> None:
        self.access = access
        self.client = client
        self.store = store
        self.repo = Reference(access.registry, access.repository)
        self.jobs = max(1, jobs)
        self.warnings: list[str] = []
        self.traffic = Traffic()
        self._blobs: dict[str, dict[Digest, Descriptor]] = {}  # step key -> its listed blobs
        self._pool: ThreadPoolExecutor | None = None
        self._uploads: list[Future[None]] = []
        self._looked: dict[str, StepResult | None] = {}  # asked once per run
        self._small: dict[Digest, bytes] = {}  # blobs embedded in the artifacts looked up
        self._lock = threading.Lock()
        self._down = ""  # why the remote cache was given up for this run (unreachable)

    @property
    def push(self) -> bool:
        return self.access.push

    def _warn(self, message: str) -> None:
        with self._lock:
            if message not in self.warnings:
                self.warnings.append(message)

    @property
    def down(self) -> bool:
        with self._lock:
            return bool(self._down)

    def _unreachable(self, exc: RegistryError) -> bool:
        """``exc`` says the registry cannot be reached: give it up for the run (one warning)."""
        if exc.code not in UNREACHABLE:
            return False
        with self._lock:
            first = not self._down
            self._down = self._down or str(exc)
        if first:
            self._warn(f"remote cache {self.access}: unreachable ({exc}); building locally without it "
                       "for the rest of this run")
        return True

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="remote-cache")
            return self._pool

    # look-ups
    def lookup(self, steps: Sequence[Step]) -> dict[str, StepResult]:
        """The results the remote cache holds for ``steps``, by key (several at a time)."""
        found = list(self._executor().map(self.lookup_one, steps))
        return {step.key: result for step, result in zip(steps, found, strict=True) if result is not None}

    def lookup_one(self, step: Step) -> StepResult | None:
        with self._lock:
            if step.key in self._looked:
                return self._looked[step.key]
        result = self._lookup(step)
        with self._lock:
            self._looked[step.key] = result
        return result

    def _lookup(self, step: Step) -> StepResult | None:
        if self.down:
            return None
        tag = replace(self.repo, tag=step_tag(step))
        try:
            resolved = self.client.resolve(tag)
        except RegistryError as exc:
            if self._unreachable(exc):
                return None
            if exc.status != 404 and exc.code not in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN"):
                self._warn(f"remote cache {self.access}: {exc} (building locally)")
            return None
        except ClusterbuildError as exc:  # e.g. not a manifest this client reads
            self._warn(f"remote cache {self.access}: {step.label}: {exc} (building locally)")
            return None
        self.traffic.add(size=resolved.size)
        try:
            parts = artifact_parts(resolved.data)
            result = read_record(step, self._record_bytes(parts))
        except (BadArtifact, ClusterbuildError, OSError) as exc:
            self._warn(f"remote cache {self.access}: {step.label}: unusable record ({exc}); "
                       "building locally")
            return None
        self.traffic.add(records=1)
        listed = {blob.digest: blob for blob in parts.blobs}
        with self._lock:
            self._small.update(parts.small)
        if not set(needed_blobs(result, Need.BLOBS)) <= set(listed):
            self._warn(f"remote cache {self.access}: {step.label}: the record lacks blobs; "
                       "building locally")
            return None
        with self._lock:
            self._blobs[step.key] = listed
        self.client.remember(self.repo, list(listed))
        return result

    def _record_bytes(self, parts: ArtifactParts) -> bytes:
        """The record: embedded in the manifest (no request), else its blob."""
        if parts.embedded is not None:
            return parts.embedded
        self.client.fetch_blob(self.repo, parts.record, self.store)
        self.traffic.add(size=parts.record.size)
        return self.store.read_bytes(parts.record.digest)

    # fetching blobs
    def fetch(self, steps: Mapping[str, Step], results: Mapping[str, StepResult],
              needs: Mapping[str, Need]) -> set[str]:
        """Fetch what each remote step's consumers need; the keys whose blobs failed."""
        work = [(key, digest) for key, need in needs.items()
                for digest in needed_blobs(results[key], need) if not self.store.has(digest)]
        unique = list({digest: key for key, digest in work}.items())
        outcomes = list(self._executor().map(lambda item: self._fetch_blob(item[1], item[0]), unique))
        failed = {digest for (digest, _), ok in zip(unique, outcomes, strict=True) if not ok}
        broken = {key for key, digest in work if digest in failed}
        for key in sorted(broken):
            self._warn(f"remote cache {self.access}: {steps[key].label}: a blob could not be "
                       "fetched (see above); building it locally")
        return broken

    def _fetch_blob(self, key: str, digest: Digest) -> bool:
        blob = self._blobs[key][digest]
        with self._lock:
            small = self._small.get(digest)
        if small is not None:  # came with the look-up (checked against its digest)
            self.store.put_bytes(small)
            self.traffic.add(blobs=1)
            return True
        if self.down:
            return False
        try:
            self.client.fetch_blob(self.repo, blob, self.store)
        except RegistryError as exc:
            if not self._unreachable(exc):
                self._warn(f"remote cache {self.access}: {exc}")
            return False
        except (ClusterbuildError, OSError) as exc:
            self._warn(f"remote cache {self.access}: {exc}")
            return False
        self.traffic.add(blobs=1, size=blob.size)
        return True

    # uploads
    def upload(self, step: Step, result: StepResult) -> None:
        """Upload ``step``'s record and blobs in the background (when pushing is allowed)."""
        if self.push:
            future = self._executor().submit(self._upload, step, result)
            with self._lock:
                self._uploads.append(future)

    def _upload(self, step: Step, result: StepResult) -> None:
        if self.down:
            return
        try:
            artifact = step_artifact(step, result, self._size_of, self._small_blob)
            self.store.put_bytes(artifact.record)
            self.store.put_bytes(artifact.manifest)
            self.client.push(replace(self.repo, tag=step_tag(step)), artifact.manifest_descriptor,
                             self.store)
            self.traffic.add(uploads=1)
        except RegistryError as exc:
            if not self._unreachable(exc):
                self._warn(f"remote cache {self.access}: not stored: {step.label}: {exc}")
        except (ClusterbuildError, OSError) as exc:
            self._warn(f"remote cache {self.access}: not stored: {step.label}: {exc}")

    def _small_blob(self, digest: Digest) -> bytes | None:
        """A small blob's bytes from the store (None: not here, e.g. only mounted)."""
        try:
            return self.store.read_bytes(digest)
        except (FileNotFoundError, ClusterbuildError):
            return None

    def _size_of(self, digest: Digest) -> int:
        try:
            return self.store.size(digest)
        except FileNotFoundError:
            pass
        with self._lock:  # a blob this run knows only remotely (mounted, never fetched)
            listed = [blobs[digest] for blobs in self._blobs.values() if digest in blobs]
        if not listed:
            raise FileNotFoundError(f"blob {digest} is neither in the store nor in the remote cache")
        return listed[0].size

    def finish(self) -> None:
        """Wait for the uploads; stop the workers."""
        with self._lock:
            uploads, self._uploads = self._uploads, []
            pool, self._pool = self._pool, None
        for future in uploads:
            future.result()
        if pool is not None:
            pool.shutdown(wait=True)
