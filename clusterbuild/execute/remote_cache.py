"""The remote step cache: step records and blobs in one OCI repository (``step_artifacts``).

    bundles  GET, at the first look-up of a step of an app version of the run, the bundle of
             its first platform (``step_bundles``): the artifact manifests of all its steps in
             one request; the bundles of its other platforms only when that one does not
             cover them
    lookup   a step's artifact manifest from a bundle read, else GET the one tagged from its
             step key (the record is embedded in it; its blob is fetched only from an
             artifact without it)
    fetch    the blobs a consumer needs (``plan.demand.Need``), each verified by its digest
    upload   after a step ran (when pushing is allowed): blobs (HEAD first, else a mount,
             else an upload), the record, then the manifest under its tag; at ``finish``, the
             bundles of each app version whose steps this run uploaded or found outside its
             bundles (those read, with these added; every platform of the run in each)

Every problem with the remote cache (unreachable, refused, missing, corrupt, another
step's record) is a warning and the step runs locally: never a failure of the build. A
missing bundle is silent and a damaged one a warning: its steps are looked up one by one.
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
from clusterbuild.execute.step_bundles import MAX_STEPS, Bundle, BundleGroup, bundle_index, read_bundle
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
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
MISSING = frozenset({"MANIFEST_UNKNOWN", "NAME_UNKNOWN"})  # a tag the repository lacks: a miss


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

    records: int = 0  # records read (from bundles or by a look-up of their own)
    lookups: int = 0  # manifests asked for by a step's tag (hits and misses)
    bundles: int = 0  # bundles read (each one request, or two for a large one)
    blobs: int = 0  # blobs fetched (small ones come embedded in the look-up: no request)
    bytes: int = 0  # bytes of records, manifests and blobs fetched
    blob_bytes: int = 0  # of which blobs fetched by a request of their own
    uploads: int = 0  # records written
    bundle_uploads: int = 0  # bundles written
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, records: int = 0, blobs: int = 0, size: int = 0, uploads: int = 0,
            lookups: int = 0, bundles: int = 0, bundle_uploads: int = 0) -> None:
        with self.lock:
            self.records += records
            self.lookups += lookups
            self.bundles += bundles
            self.blobs += blobs
            self.bytes += size
            self.blob_bytes += size if blobs else 0
            self.uploads += uploads
            self.bundle_uploads += bundle_uploads

    def to_json(self) -> dict[str, int]:
        return {"records": self.records, "lookups": self.lookups, "bundles": self.bundles,
                "blobs": self.blobs, "bytes": self.bytes, "blob_bytes": self.blob_bytes,
                "uploads": self.uploads, "bundle_uploads": self.bundle_uploads}


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
        self._groups: dict[tuple[str, str], list[BundleGroup]] = {}  # (app, version) -> its bundles
        self._read: dict[str, Bundle | None] = {}  # bundle tag -> the bundle (None: none)
        self._bundled: dict[str, bytes] = {}  # step key -> its artifact manifest, from a bundle
        self._known: dict[str, tuple[Step, bytes]] = {}  # step key -> manifest the repository has
        self._bundle_lock = threading.Lock()  # one reader of bundles at a time: others wait for it
        self._bundles_written = False

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

    # bundles
    def expect(self, groups: Sequence[BundleGroup]) -> None:
        """The app versions and platforms of this run: a look-up of one of their steps reads
        their bundles first; ``finish`` writes them (when pushing)."""
        with self._lock:
            for group in groups:
                known = self._groups.setdefault((group.app, group.version), [])
                if group not in known:
                    known.append(group)

    def _groups_of(self, step: Step) -> list[BundleGroup]:
        return [g for g in self._groups.get((step.app, step.version), ()) if g.holds(step)]

    def _read_bundles(self, steps: Sequence[Step]) -> None:
        """Read the bundles of ``steps`` not read yet, several at a time, each once per run."""
        with self._lock:
            todo = list({g.tag: g for s in steps for g in self._groups_of(s)}.values())
        self._read_groups(todo)

    def _read_groups(self, groups: Sequence[BundleGroup]) -> None:
        """Each group's bundle, unless read already: first one per app version, then those
        the first did not cover (``step_bundles``: a run of every platform covers them all)."""
        with self._bundle_lock:
            for batch in range(2):
                with self._lock:
                    todo = [g for g in groups if g.tag not in self._read]
                    if batch == 0:
                        todo = list({(g.app, g.version): g for g in reversed(todo)}.values())
                found = list(self._executor().map(self._read_bundle, todo)) if todo else []
                with self._lock:
                    for group, bundle in zip(todo, found, strict=True):
                        self._read[group.tag] = bundle
                        for key, manifest in (bundle.steps if bundle else {}).items():
                            self._bundled.setdefault(key, manifest)
                        for other in self._groups.get((group.app, group.version), ()):
                            if bundle is not None and other.tag in bundle.covers:
                                self._read.setdefault(other.tag, bundle)

    def _read_bundle(self, group: BundleGroup) -> Bundle | None:
        """The steps of ``group``'s bundle; None when there is none (silent) or it is damaged
        (a warning): its steps are looked up one by one."""
        if self.down:
            return None
        try:
            resolved = self.client.resolve(replace(self.repo, tag=group.tag))
            self.traffic.add(size=resolved.size)
            bundle = read_bundle(resolved.data)
        except RegistryError as exc:
            if not self._unreachable(exc) and exc.status != 404 and exc.code not in MISSING:
                self._warn(f"remote cache {self.access}: the bundle of {group.label}: {exc} "
                           "(looking its steps up one by one)")
            return None
        except (BadArtifact, ClusterbuildError, OSError) as exc:
            self._warn(f"remote cache {self.access}: the bundle of {group.label} is unusable ({exc}); "
                       "looking its steps up one by one")
            return None
        self.traffic.add(bundles=1)
        return bundle

    # look-ups
    def lookup(self, steps: Sequence[Step]) -> dict[str, StepResult]:
        """The results the remote cache holds for ``steps``, by key (several at a time; those
        of the bundles read here, without a request)."""
        self._read_bundles(steps)
        with self._lock:
            known = {s.key for s in steps if s.key in self._bundled or s.key in self._looked}
        inline = [s for s in steps if s.key in known]
        rest = [s for s in steps if s.key not in known]
        found = dict(zip((s.key for s in inline), map(self.lookup_one, inline), strict=True))
        found |= dict(zip((s.key for s in rest), self._executor().map(self.lookup_one, rest), strict=True))
        return {key: result for key, result in found.items() if result is not None}

    def lookup_one(self, step: Step) -> StepResult | None:
        with self._lock:
            if step.key in self._looked:
                return self._looked[step.key]
        self._read_bundles([step])
        result = self._lookup(step)
        with self._lock:
            self._looked[step.key] = result
        return result

    def _lookup(self, step: Step) -> StepResult | None:
        if self.down:
            return None
        with self._lock:
            bundled = self._bundled.get(step.key)
        if bundled is not None:
            try:
                return self._take(step, bundled)
            except (BadArtifact, ClusterbuildError, OSError) as exc:
                self._warn(f"remote cache {self.access}: {step.label}: unusable record in its bundle "
                           f"({exc}); looking it up by its tag")
        body = self._manifest(step)
        if body is None:
            return None
        try:
            return self._take(step, body)
        except (BadArtifact, ClusterbuildError, OSError) as exc:
            self._warn(f"remote cache {self.access}: {step.label}: unusable record ({exc}); "
                       "building locally")
            return None

    def _manifest(self, step: Step) -> bytes | None:
        """The artifact manifest tagged from ``step``'s key; None: a miss (or warned)."""
        try:
            resolved = self.client.resolve(replace(self.repo, tag=step_tag(step)))
        except RegistryError as exc:
            self.traffic.add(lookups=1)
            if self._unreachable(exc):
                return None
            if exc.status != 404 and exc.code not in MISSING:
                self._warn(f"remote cache {self.access}: {exc} (building locally)")
            return None
        except ClusterbuildError as exc:  # e.g. not a manifest this client reads
            self.traffic.add(lookups=1)
            self._warn(f"remote cache {self.access}: {step.label}: {exc} (building locally)")
            return None
        self.traffic.add(size=resolved.size, lookups=1)
        return resolved.data

    def _take(self, step: Step, manifest: bytes) -> StepResult:
        """The result of ``step`` from its artifact manifest (its blobs noted for fetching)."""
        parts = artifact_parts(manifest)
        result = read_record(step, self._record_bytes(parts))
        listed = {blob.digest: blob for blob in parts.blobs}
        if not set(needed_blobs(result, Need.BLOBS)) <= set(listed):
            raise BadArtifact("the record lacks blobs")
        self.traffic.add(records=1)
        with self._lock:
            self._small.update(parts.small)
            self._blobs[step.key] = listed
            self._known[step.key] = (step, manifest)
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
            with self._lock:
                self._known[step.key] = (step, artifact.manifest)
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
        """Wait for the uploads, write the bundles that changed (when pushing); stop the workers."""
        with self._lock:
            uploads, self._uploads = self._uploads, []
        for future in uploads:
            future.result()
        self._write_bundles()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _write_bundles(self) -> None:
        """The bundles of this run's app versions and platforms, with the steps the repository
        holds that this run uploaded or found outside them, where that changes them (once a
        run). The bundles of one app version get the records of all its platforms of the run,
        and say they cover each other: a reader needs one of them."""
        with self._lock:
            if self._bundles_written or not self.push or self._down:
                return
            self._bundles_written = True
            versions = list(self._groups.values())  # the bundles of each app version
            known = list(self._known.values())
        by_version: dict[tuple[str, str], list[tuple[Step, bytes]]] = {}
        for step, body in known:
            by_version.setdefault((step.app, step.version), []).append((step, body))
        ours = [{step.key: body for step, body in by_version.get((groups[0].app, groups[0].version), [])
                 if any(g.holds(step) for g in groups)} for groups in versions]
        self._read_groups([g for groups, mine in zip(versions, ours, strict=True) if mine for g in groups])
        todo = []
        for groups, mine in zip(versions, ours, strict=True):
            with self._lock:
                read = {g.tag: self._read.get(g.tag) for g in groups}
            steps = {k: v for bundle in read.values() if bundle for k, v in bundle.steps.items()} | mine
            if len(steps) > MAX_STEPS:  # stale records of earlier builds: start again from this one
                steps = mine
            covers = frozenset(g.tag for g in groups)
            todo += [(g, steps, covers) for g in groups if mine and read[g.tag] != Bundle(steps, covers)]
        list(self._executor().map(lambda item: self._push_bundle(*item), todo))

    def _push_bundle(self, group: BundleGroup, steps: dict[str, bytes], covers: frozenset[str]) -> None:
        """One PUT: the step manifests it names are in the repository (uploaded or found)."""
        if self.down:
            return
        index = bundle_index(group, steps, covers)
        try:
            descriptor = Descriptor(MediaType.INDEX.value, self.store.put_bytes(index), len(index))
            self.client.put_manifest(replace(self.repo, tag=group.tag), descriptor, self.store)
            self.traffic.add(bundle_uploads=1)
        except RegistryError as exc:
            if not self._unreachable(exc):
                self._warn(f"remote cache {self.access}: not stored: the bundle of {group.label}: {exc}")
        except (ClusterbuildError, OSError) as exc:
            self._warn(f"remote cache {self.access}: not stored: the bundle of {group.label}: {exc}")
