"""Attaching an artifact (an SBOM) to an image in a registry, and finding it again.

The artifact manifest is pushed by digest into the subject's repository. A registry with the
referrers API (``GET /v2/<name>/referrers/<digest>`` answers 200 with an index) lists it from
its ``subject``; elsewhere (Debian's docker-registry 2.8 answers 404) the index under the
fallback tag ``sha256-<hex>`` lists it: read, the artifact added, written back, so referrers
put there by other tools stay. Writing that tag is read-modify-write: two tools attaching to
the same digest at the same instant can lose one entry (as the OCI spec says of the scheme).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.artifacts import Artifact, fallback_tag, referrer_entries, with_referrer
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.oci.reference import Reference
from clusterbuild.places.registry import RegistryClient
from clusterbuild.places.registry.errors import RegistryError

REFERRERS_API = "referrers API"


@dataclass(frozen=True)
class Attached:
    subject: Reference  # repository@digest
    artifact: Digest
    artifact_type: str
    via: str  # "referrers API" or "tag sha256-<hex>"
    new: bool  # False: it was attached already

    def to_json(self) -> dict[str, Any]:
        return {"subject": str(self.subject), "artifact": str(self.artifact),
                "artifactType": self.artifact_type, "via": self.via, "new": self.new}


def attach(client: RegistryClient, subject: Reference, artifacts: Sequence[Artifact],
           store: BlobStore) -> list[Attached]:
    """Push each artifact next to ``subject`` (repository@digest) and make it findable from there
    (what is attached already is left as it is: the same artifact has the same digest)."""
    assert subject.digest is not None
    repo = replace(subject, tag="", digest=None)
    listed = client.referrers(repo, subject.digest)
    if listed is not None:
        there = {str(m.get("digest")) for m in listed}
        for art in artifacts:
            if str(art.descriptor.digest) not in there:
                _push(client, repo, art, store)
        return [Attached(subject, a.descriptor.digest, a.artifact_type, REFERRERS_API,
                         str(a.descriptor.digest) not in there) for a in artifacts]
    return _list_in_fallback(client, repo, subject.digest, artifacts, store)


def _push(client: RegistryClient, repo: Reference, art: Artifact, store: BlobStore) -> None:
    for _, data in art.blobs:
        store.put_bytes(data)
    store.put_bytes(art.manifest)
    client.push(replace(repo, digest=art.descriptor.digest), art.descriptor, store)


def _list_in_fallback(client: RegistryClient, repo: Reference, digest: Digest,
                      artifacts: Sequence[Artifact], store: BlobStore) -> list[Attached]:
    tag = fallback_tag(digest)
    where = replace(repo, tag=tag)
    there = client.manifest_at(where)
    index, done = there.data if there is not None else None, []
    for art in artifacts:
        try:
            updated = with_referrer(index, art.listing())
        except ValueError:
            raise RegistryError(f"{where} is not an image index, so it cannot list the referrers of "
                                f"{digest}", code="MANIFEST_INVALID",
                                hint="the tag sha256-<hex> is the OCI 1.1 referrers fallback; remove "
                                     "what is there") from None
        if updated is not None:
            _push(client, repo, art, store)
            index = updated
        done.append(Attached(replace(repo, digest=digest), art.descriptor.digest, art.artifact_type,
                             f"tag {tag}", updated is not None))
    if index is not None and (there is None or index != there.data):
        listing = Descriptor(MediaType.INDEX.value, store.put_bytes(index), len(index))
        client.put_manifest(where, listing, store)
    return done


def referrers_of(client: RegistryClient, subject: Reference) -> list[dict[str, Any]]:
    """Every referrer of ``subject`` (repository@digest): from the referrers API, else from its
    fallback tag (none when the tag is not there)."""
    assert subject.digest is not None
    repo = replace(subject, tag="", digest=None)
    listed = client.referrers(repo, subject.digest)
    if listed is not None:
        return listed
    there = client.manifest_at(replace(repo, tag=fallback_tag(subject.digest)))
    return referrer_entries(there.data) if there is not None else []
