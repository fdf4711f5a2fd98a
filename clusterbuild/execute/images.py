"""Run image and index steps: config, manifest and index blobs from upstream results."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, Index, Manifest, MediaType, to_bytes
from clusterbuild.plan.steps import ImageStep, IndexStep

Results = dict[str, dict[str, Any]]


def _put(store: BlobStore, media_type: MediaType, doc: dict[str, Any]) -> Descriptor:
    data = to_bytes(doc)
    return Descriptor(media_type.value, store.put_bytes(data), len(data))


def run_image(step: ImageStep, store: BlobStore, results: Results) -> dict[str, Any]:
    assert step.config is not None
    layers = [results[key] for key in step.needs]
    diff_ids = tuple(Digest.parse(layer["diff_id"]) for layer in layers)
    config = _put(store, MediaType.CONFIG, replace(step.config, diff_ids=diff_ids).to_json())
    manifest_doc = Manifest(config, tuple(Descriptor.from_json(layer["layer"]) for layer in layers))
    manifest = _put(store, MediaType.MANIFEST, manifest_doc.to_json())
    platform_manifest = replace(manifest, platform=step.config.platform)
    blobs = [str(manifest.digest), str(config.digest), *(layer["blobs"][0] for layer in layers)]
    unpacked = [{"layer": layer["layer"], "diff_id": layer["diff_id"], "diff_size": layer["diff_size"]}
                for layer in layers]
    return {"manifest": platform_manifest.to_json(), "config": config.to_json(),
            "layers": unpacked, "blobs": blobs}


def run_index(step: IndexStep, store: BlobStore, results: Results) -> dict[str, Any]:
    manifests = tuple(Descriptor.from_json(results[key]["manifest"]) for key in step.needs)
    index = _put(store, MediaType.INDEX, Index(manifests).to_json())
    blobs = [str(index.digest)] + [b for key in step.needs for b in results[key]["blobs"]]
    return {"index": index.to_json(), "blobs": blobs}
