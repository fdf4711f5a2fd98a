"""Run a chart step: a chart as Helm stores it in an OCI registry, written to the store."""

from __future__ import annotations

import shutil
from pathlib import Path

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.execute.layers import GzipWriter
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor, MediaType, to_bytes
from clusterbuild.oci.reference import Reference
from clusterbuild.oci.stored import StoredImage
from clusterbuild.places.tar_stream import write_tar
from clusterbuild.plan.results import PullResult
from clusterbuild.plan.steps import ChartStep

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


def _package(step: ChartStep, store: BlobStore) -> Descriptor:
    if step.package is not None:  # a packaged chart ships byte for byte
        assert step.package.digest is not None
        digest = step.package.digest
        if not store.has(digest, step.package.size):
            with store.writer(expect=digest) as blob, step.sources[str(digest)].open("rb") as f:
                shutil.copyfileobj(f, blob, 1 << 20)
        return Descriptor(HELM_CHART, digest, step.package.size)

    def source_of(digest: Digest) -> Path:
        path = step.sources.get(str(digest))
        if path is None:
            raise BuildError(f"{step.label}: content {digest} is not in the build context")
        return path

    with store.writer() as blob:
        gzip = GzipWriter(blob)
        write_tar(step.entries, source_of, gzip, step.mtime)
        gzip.close()
    return Descriptor(HELM_CHART, blob.digest, blob.size)


def run_chart(step: ChartStep, store: BlobStore) -> PullResult:
    layer = _package(step, store)
    config_bytes = step.config.encode()
    config = Descriptor(HELM_CONFIG, store.put_bytes(config_bytes), len(config_bytes))
    manifest_bytes = to_bytes({"schemaVersion": 2, "mediaType": MediaType.MANIFEST.value,
                               "config": config.to_json(), "layers": [layer.to_json()]})
    manifest = Descriptor(MediaType.MANIFEST.value, store.put_bytes(manifest_bytes),
                          len(manifest_bytes))
    image = StoredImage(Reference.parse(step.reference), manifest, (manifest,), (config, layer))
    return PullResult(image, manifest.digest)
