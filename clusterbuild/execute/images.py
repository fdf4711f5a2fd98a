"""Run image and index steps: config, manifest and index blobs from upstream results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.model import Descriptor, Index, Manifest, MediaType, to_bytes
from clusterbuild.plan.results import ImageResult, IndexResult, LayerResult
from clusterbuild.plan.steps import ImageStep, IndexStep


def _put(store: BlobStore, media_type: MediaType, doc: dict[str, Any]) -> Descriptor:
    data = to_bytes(doc)
    return Descriptor(media_type.value, store.put_bytes(data), len(data))


def run_image(step: ImageStep, store: BlobStore, layers: Sequence[LayerResult]) -> ImageResult:
    assert step.config is not None
    diff_ids = tuple(layer.diff_id for layer in layers)
    config = _put(store, MediaType.CONFIG, replace(step.config, diff_ids=diff_ids).to_json())
    manifest = _put(store, MediaType.MANIFEST,
                    Manifest(config, tuple(layer.layer for layer in layers)).to_json())
    unpacked = tuple(replace(layer, referenced=()) for layer in layers)
    return ImageResult(replace(manifest, platform=step.config.platform), config, unpacked)


def run_index(step: IndexStep, store: BlobStore, images: Sequence[ImageResult]) -> IndexResult:
    index = _put(store, MediaType.INDEX, Index(tuple(image.manifest for image in images)).to_json())
    return IndexResult(index, tuple(b for image in images for b in image.blobs))
