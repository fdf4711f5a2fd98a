"""``clusterbuild publish``: the index job of a sharded CI build. Each ``<app>:<version>``
index is assembled from what the shards pushed (each platform's ``-<arch>`` image in the push
target, its image record here or in the remote cache): nothing is rebuilt, no layer moves.

An index is pushed only when every platform of its app version is there with the digest the
plan builds; otherwise the index already published stays as it was, and the app version is
reported as held back, with why. The indexes are the bytes one machine's build writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clusterbuild.cache.store import BlobStore
from clusterbuild.commands.attachments import PushedIndex, attach_sboms
from clusterbuild.commands.build import Notify, Planned, prepared_plan
from clusterbuild.commands.run import Run
from clusterbuild.commands.signatures import load_signer, sign_indexes
from clusterbuild.errors import ClusterbuildError, Failure
from clusterbuild.execute.images import run_index
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.reference import Reference
from clusterbuild.places.referrers import Attached
from clusterbuild.places.signatures import Signed
from clusterbuild.plan.results import ImageResult
from clusterbuild.plan.steps import IndexStep, PushStep
from clusterbuild.settings import Settings
from clusterbuild.workspace.load import LoadedWorkspace


@dataclass(frozen=True)
class Published:
    pushed: tuple[tuple[str, Digest], ...]  # index names pushed now
    unchanged: tuple[tuple[str, Digest], ...]  # already the index the plan builds
    held_back: tuple[tuple[str, str], ...]  # app version -> why its index was not pushed
    failures: tuple[Failure, ...] = ()
    warnings: tuple[str, ...] = ()
    attached: tuple[Attached, ...] = ()  # the SBOMs attached to the indexes pushed or unchanged
    signed: tuple[Signed, ...] = ()  # those indexes, signed (--sign-key)
    platforms: tuple[tuple[str, Digest], ...] = ()  # the -<arch> images the indexes name

    def to_json(self) -> dict[str, Any]:
        return {"pushed": [{"ref": r, "digest": str(d)} for r, d in self.pushed],
                "attached": [a.to_json() for a in self.attached],
                "signed": [s.to_json() for s in self.signed],
                "unchanged": [{"ref": r, "digest": str(d)} for r, d in self.unchanged],
                "held_back": [{"app": a, "why": w} for a, w in self.held_back],
                "platforms": [{"ref": r, "digest": str(d)} for r, d in self.platforms],
                "failures": [{"what": f.what, "error": str(f.error)} for f in self.failures],
                "warnings": list(self.warnings)}


def _digest_at(run: Run, ref: str) -> Digest | None:
    try:
        return run.network.client().resolve(Reference.parse(ref)).digest
    except ClusterbuildError:
        return None


def _images(run: Run, planned: Planned, index: IndexStep, push: PushStep) -> list[ImageResult] | str:
    """Each platform's image, checked against what the shards pushed; or why not."""
    images = []
    for platform, key, ref in zip(index.platforms, index.needs, push.platform_refs, strict=True):
        result = planned.assessments[key].result
        if not isinstance(result, ImageResult):
            return f"{platform}: not built (neither this cache nor the remote cache has its image)"
        there = _digest_at(run, ref)
        if there is None:
            return f"{platform}: {ref} is not in the registry (its shard failed or did not run)"
        if there != result.manifest.digest:
            return f"{platform}: {ref} is {there}, not the image built from this workspace " \
                   f"({result.manifest.digest}; its shard failed or did not run)"
        images.append(result)
    return images


def _publish_one(run: Run, planned: Planned, index: IndexStep, push: PushStep, store: BlobStore
                 ) -> PushedIndex | str:
    images = _images(run, planned, index, push)
    if isinstance(images, str):
        return images
    built = run_index(index, store, images).index
    if _digest_at(run, push.index_ref) != built.digest:
        stored = run.network.client().put_manifest(Reference.parse(push.index_ref), built, store)
        if stored != built.digest:
            return f"the registry stored the index as {stored}, not {built.digest}"
    return PushedIndex(index.app, index.version, push.index_ref, built)


def _platforms(planned: Planned, index: IndexStep, push: PushStep) -> list[tuple[str, Digest]]:
    """The -<arch> images of a published index (checked against the registry by ``_images``)."""
    results = [planned.assessments[key].result for key in index.needs]
    return [(ref, r.manifest.digest) for ref, r in zip(push.platform_refs, results, strict=True)
            if isinstance(r, ImageResult)]


def publish(settings: Settings, ws: LoadedWorkspace, notify: Notify) -> Published:
    signer = load_signer(settings, ws.root)

    def use(run: Run, planned: Planned) -> Published:
        pushes = {(s.app, s.version): s for s in planned.plan.steps if isinstance(s, PushStep)}
        pushed: list[tuple[str, Digest]] = []
        unchanged: list[tuple[str, Digest]] = []
        held: list[tuple[str, str]] = []
        indexes: list[PushedIndex] = []
        platforms: list[tuple[str, Digest]] = []
        for index in (s for s in planned.plan.steps if isinstance(s, IndexStep)):
            push = pushes[(index.app, index.version)]
            before = _digest_at(run, push.index_ref)
            try:
                done = _publish_one(run, planned, index, push, run.store)
            except ClusterbuildError as exc:
                done = f"pushing the index failed: {exc}"
            if isinstance(done, str):
                held.append((f"{index.app}:{index.version}", done))
                continue
            platforms += _platforms(planned, index, push)
            indexes.append(done)
            (unchanged if before == done.index.digest else pushed).append((done.ref, done.index.digest))
        attached = attach_sboms(run, planned, indexes)
        signed = sign_indexes(run, signer, indexes)
        failures = tuple(dict.fromkeys((*planned.failures, *run.failures)))  # attaching may add some
        return Published(tuple(pushed), tuple(unchanged), tuple(held), failures, planned.warnings,
                         tuple(attached), tuple(signed), tuple(platforms))

    return prepared_plan(settings, ws, notify, use)
