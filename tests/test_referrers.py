"""SBOMs attached to the pushed index as OCI 1.1 artifacts, found from the index digest: on
Debian's docker-registry 2.8 (no referrers API) through the fallback tag ``sha256-<hex>``,
read back with skopeo and plain HTTP, not with clusterbuild's client."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from oci_push import OCI_INDEX, OCI_MANIFEST, put_blob, put_manifest

from clusterbuild.oci.artifacts import EMPTY, artifact, fallback_tag, with_referrer
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType
from clusterbuild.oci.reference import Reference
from clusterbuild.places.registry import RegistryClient, RegistryConfig

from conftest import apply_json

SPDX, CDX = "application/spdx+json", "application/vnd.cyclonedx+json"


def raw(registry: str, ref: str) -> bytes:
    proc = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{registry}/{ref}"],
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def blob(registry: str, repo: str, digest: str) -> bytes:
    response = httpx.get(f"http://{registry}/v2/{repo}/blobs/{digest}")
    response.raise_for_status()
    return response.content


def referrer_index(registry: str, repo: str, index_digest: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(raw(registry, f"{repo}:sha256-{index_digest.split(':')[1]}"))
    return found


def test_push_attaches_both_sboms_found_from_the_index_digest(workspace: Path, registry: str) -> None:
    repo = "attach/hello-tools"
    result = apply_json(workspace, "hello-tools", "--push-to", f"{registry}/attach",
                        "--insecure-registry", registry)
    index_digest = "sha256:" + hashlib.sha256(raw(registry, f"{repo}:v1.0.0")).hexdigest()
    # the registry has no referrers API: the fallback tag is what lists them
    assert httpx.get(f"http://{registry}/v2/{repo}/referrers/{index_digest}").status_code == 404
    listing = referrer_index(registry, repo, index_digest)
    assert listing["mediaType"] == OCI_INDEX
    by_type = {m["artifactType"]: m for m in listing["manifests"]}
    assert set(by_type) == {SPDX, CDX}
    for kind, suffix in ((SPDX, ".spdx.json"), (CDX, ".cdx.json")):
        manifest = json.loads(raw(registry, f"{repo}@{by_type[kind]['digest']}"))
        assert manifest["subject"]["digest"] == index_digest
        assert manifest["subject"]["mediaType"] == OCI_INDEX
        assert manifest["artifactType"] == kind and manifest["config"]["size"] == 2
        (layer,) = manifest["layers"]
        assert layer["annotations"]["org.opencontainers.image.title"] == f"hello-tools-v1.0.0{suffix}"
        shipped = blob(registry, repo, layer["digest"])
        assert shipped == (workspace / f"out/sbom/hello-tools-v1.0.0{suffix}").read_bytes()
    assert {a["artifactType"] for a in result["attached"] if a["new"]} == {SPDX, CDX}
    # again: nothing new is attached, the fallback index is the same bytes
    before = raw(registry, f"{repo}:sha256-{index_digest.split(':')[1]}")
    again = apply_json(workspace, "hello-tools", "--push-to", f"{registry}/attach",
                       "--insecure-registry", registry)
    assert [a["new"] for a in again["attached"]] == [False, False]
    assert raw(registry, f"{repo}:sha256-{index_digest.split(':')[1]}") == before


def test_other_referrers_in_the_fallback_tag_are_kept(workspace: Path, registry: str) -> None:
    repo = "keep/hello-tools"
    built = apply_json(workspace, "hello-tools")
    index_digest = next(i["digest"] for i in built["images"] if i["ref"].endswith("hello-tools:v1.0.0"))
    # another tool's referrer of the same index, listed under the fallback tag before we push
    subprocess.run(["skopeo", "copy", "--all", "--dest-tls-verify=false",
                    f"oci:{workspace / 'out'}:docker.io/labring/hello-tools:v1.0.0",
                    f"docker://{registry}/{repo}:v1.0.0"], check=True, capture_output=True)
    config = put_blob(registry, repo, EMPTY, "application/vnd.oci.empty.v1+json")
    note = put_blob(registry, repo, b"signed by someone else", "text/plain")
    index_size = len(raw(registry, f"{repo}:v1.0.0"))
    other = put_manifest(registry, repo, "other", {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "text/plain", "config": config,
        "layers": [note], "subject": {"mediaType": OCI_INDEX, "digest": index_digest, "size": index_size}})
    put_manifest(registry, repo, f"sha256-{index_digest.split(':')[1]}", {
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{**other, "artifactType": "text/plain", "annotations": {"by": "another tool"}}]})
    apply_json(workspace, "hello-tools", "--push-to", f"{registry}/keep", "--insecure-registry", registry)
    listing = referrer_index(registry, repo, index_digest)["manifests"]
    assert [m["artifactType"] for m in listing] == ["text/plain", SPDX, CDX]
    assert listing[0] == {**other, "artifactType": "text/plain", "annotations": {"by": "another tool"}}


def test_a_registry_without_the_referrers_api_is_detected_by_its_404(registry: str) -> None:
    digest = Digest.of_bytes(b"no such manifest")
    with RegistryClient(RegistryConfig(insecure=frozenset({registry}))) as client:
        assert client.referrers(Reference(registry, "none/here"), digest) is None
        assert client.manifest_at(Reference(registry, "none/here", fallback_tag(digest))) is None


def _subject() -> Descriptor:
    return Descriptor(MediaType.INDEX.value, Digest.of_bytes(b"index"), 5)


def test_artifact_manifest_names_its_subject_and_is_reproducible() -> None:
    one = artifact(SPDX, b'{"spdxVersion": "SPDX-2.3"}', "a.spdx.json", _subject())
    assert one.manifest == artifact(SPDX, b'{"spdxVersion": "SPDX-2.3"}', "a.spdx.json", _subject()).manifest
    body = json.loads(one.manifest)
    assert body["subject"] == {"mediaType": MediaType.INDEX.value, "digest": str(_subject().digest),
                               "size": 5}
    assert body["config"]["digest"] == \
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    assert one.listing()["artifactType"] == SPDX and one.listing()["digest"] == str(one.descriptor.digest)


def test_fallback_index_adds_once_and_keeps_the_others() -> None:
    one = artifact(SPDX, b"1", "a", _subject()).listing()
    two = artifact(CDX, b"2", "b", _subject()).listing()
    first = with_referrer(None, one)
    assert first is not None and with_referrer(first, one) is None
    second = with_referrer(first, two)
    assert second is not None
    assert [m["digest"] for m in json.loads(second)["manifests"]] == [one["digest"], two["digest"]]
    with pytest.raises(ValueError):
        with_referrer(b'{"schemaVersion": 2, "mediaType": "' + MediaType.MANIFEST.value.encode() + b'"}', one)
