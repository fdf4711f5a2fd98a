"""Run an export step: put an app version's images into the OCI layout (and archives)."""

from __future__ import annotations

from collections.abc import Sequence

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.model import Descriptor
from clusterbuild.places.archive import write_oci_archive
from clusterbuild.places.docker_archive import DockerLayer, write_docker_archive
from clusterbuild.places.layout import OciLayout, RefBatch
from clusterbuild.plan.results import ExportResult, ImageResult, IndexResult
from clusterbuild.plan.steps import ExportStep


def export_refs(step: ExportStep, index: IndexResult, images: Sequence[ImageResult]) -> dict[str, Descriptor]:
    refs = {step.index_ref: index.index}
    for ref, image in zip(step.platform_refs, images, strict=True):
        refs[ref] = Descriptor(image.manifest.media_type, image.manifest.digest, image.manifest.size)
    return refs


def run_export(step: ExportStep, store: BlobStore, index: IndexResult,
               images: Sequence[ImageResult], batch: RefBatch | None = None) -> ExportResult:
    """The blobs go into the layout now; the refs into ``batch`` (written once for the whole
    run) or, without one, at once. A ref is written only after its blobs."""
    refs = export_refs(step, index, images)
    blobs = list(dict.fromkeys(index.blobs))
    layout = OciLayout(step.layout_dir)
    for digest in blobs:
        layout.put_blob(store, digest)
    if batch is not None:
        batch.add(step.layout_dir, refs)
    else:
        layout.set_refs(refs)
    files = {}
    if step.archive is not None:
        files[step.archive] = write_oci_archive(step.root / step.archive, refs, blobs, store)
    for name, image in zip(step.platform_archives, images, strict=False):
        # one image, named <registry>/<app>:<version>: what `sealos load` and `buildah pull` take
        files[name] = write_oci_archive(step.root / name, {step.index_ref: image.manifest},
                                        list(image.blobs), store)
    for name, ref, image in zip(step.docker_archives, step.platform_refs, images, strict=False):
        layers = [DockerLayer(layer.layer, layer.diff_id, layer.diff_size) for layer in image.layers]
        files[name] = write_docker_archive(step.root / name, (step.index_ref, ref), image.config.digest,
                                           layers, store)
    return ExportResult(tuple(refs.items()), tuple(files.items()), tuple(d.hex for d in blobs))


def export_present(step: ExportStep, record: ExportResult, layout: OciLayout | None = None) -> bool:
    """Is the layout (and every archive) still as this export left it?"""
    layout = layout or OciLayout(step.layout_dir)
    wanted = dict(record.refs)
    for name, desc in wanted.items():
        current = layout.ref(name)
        if current is None or current.digest != desc.digest:
            return False
    if record.placed is not None:  # a listing of the layout's blobs, not a read of its manifests
        if not layout.has_blobs(record.placed):
            return False
    elif not layout.complete(wanted.values()):
        return False
    for name, size in record.files:
        path = step.root / name
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True
