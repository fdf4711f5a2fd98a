"""The step records of one app version and platform in one artifact: what a machine with an
empty cache reads in one request instead of a look-up per step (``step_artifacts``).

    tag        bundle-<bundle key>
    key        the hashing policy's key of (app, version, platform, the keys of the app
               version's source steps for that platform): what a run computes before it looks
               anything up (apps.lock pins the sources), the same on every clone of a commit
    index      application/vnd.oci.image.index.v1+json, artifactType BUNDLE_TYPE
    manifests  one descriptor per step: its artifact manifest, the very one its per-step tag
               names (the registry checks it is in the repository), the step key annotated,
               the manifest's bytes embedded (``data``) up to EMBED_TOTAL bytes in all
    covers     (annotation) the tags of the bundles whose records this one holds too: a run
               that built every platform of an app version writes the records of all of them
               under each platform's tag, so that a reader of the first needs no other

A reader checks each embedded manifest against its descriptor's digest and size, and reads it
as a per-step look-up does (``step_artifacts.read_record`` checks it is the record of the
step that uses it; every blob is verified by its digest when fetched). An entry without its
bytes, and a step the bundle lacks, are looked up by their tags. The key is a hint, not a
proof: an input it does not cover (a Kubefile edit) leaves the changed steps' records out of
use, and those steps miss as before. Writing a bundle is one manifest PUT: no blob.
Nothing here touches the network.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from clusterbuild.execute.step_artifacts import BadArtifact, embedded
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import MediaType, to_bytes
from clusterbuild.oci.platform import Platform
from clusterbuild.plan.keys import step_key
from clusterbuild.plan.steps import Step

BUNDLE_TYPE = "application/vnd.clusterbuild.bundle.v1+json"
IMPLEMENTATION = 1
EMBED_TOTAL = 2 << 20  # bytes of step manifests embedded in one bundle (registries take 4 MiB)
MAX_STEPS = 128  # records of one bundle; past it a bundle keeps only what its last writer used
KEY_ANNOTATION = "org.clusterbuild.step.key"
BUNDLE_ANNOTATION = "org.clusterbuild.bundle"
COVERS_ANNOTATION = "org.clusterbuild.bundle.covers"


@dataclass(frozen=True)
class BundleGroup:
    """One app version and platform of a run, and the tag of its bundle."""

    app: str
    version: str
    platform: Platform
    tag: str

    @property
    def label(self) -> str:
        return f"{self.app}:{self.version} [{self.platform}]"

    def holds(self, step: Step) -> bool:
        """``step`` belongs in this bundle (a step of every platform, e.g. a scan, in each)."""
        return (step.app == self.app and step.version == self.version
                and (not step.platforms or self.platform in step.platforms))


def bundle_group(app: str, version: str, platform: Platform, source_keys: list[str]) -> BundleGroup:
    fingerprint = {"app": app, "version": version, "platform": str(platform)}
    fingerprint |= {f"source {n}": key for n, key in enumerate(sorted(source_keys))}
    return BundleGroup(app, version, platform, f"bundle-{step_key('bundle', IMPLEMENTATION, fingerprint)}")


@dataclass(frozen=True)
class Bundle:
    steps: dict[str, bytes]  # step key -> the bytes of its artifact manifest
    covers: frozenset[str] = frozenset()  # tags of bundles whose records these include


def bundle_index(group: BundleGroup, steps: Mapping[str, bytes], covers: Collection[str] = ()) -> bytes:
    """The bundle of ``steps`` (step key -> the bytes of its artifact manifest) that holds the
    records of the bundles tagged ``covers`` too."""
    manifests, budget = [], EMBED_TOTAL
    for key, data in sorted(steps.items()):
        entry = {"mediaType": MediaType.MANIFEST.value, "digest": str(Digest.of_bytes(data)),
                 "size": len(data), "annotations": {KEY_ANNOTATION: key}}
        if len(data) <= budget:
            entry["data"] = base64.b64encode(data).decode("ascii")
            budget -= len(data)
        manifests.append(entry)
    return to_bytes({"schemaVersion": 2, "mediaType": MediaType.INDEX.value, "artifactType": BUNDLE_TYPE,
                     "manifests": manifests, "annotations": {
                         BUNDLE_ANNOTATION: group.label, COVERS_ANNOTATION: " ".join(sorted(covers))}})


def read_bundle(data: bytes) -> Bundle:
    """The step manifests a bundle embeds, by step key, each checked against its digest (an
    entry without its bytes, or with others, is left out: looked up by its tag)."""
    try:
        body = json.loads(data)
        kind = body.get("artifactType")
        if kind == BUNDLE_TYPE:
            steps = {str(entry["annotations"][KEY_ANNOTATION]): got for entry in body["manifests"]
                     if (got := embedded(entry.get("data"), entry["size"], entry["digest"])) is not None}
            covers = str(body.get("annotations", {}).get(COVERS_ANNOTATION, ""))
            return Bundle(steps, frozenset(covers.split()))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadArtifact(f"not a bundle of step records ({type(exc).__name__}: {exc})") from None
    raise BadArtifact(f"artifact type {kind!r}, expected {BUNDLE_TYPE}")
