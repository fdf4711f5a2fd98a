"""Run an export step: put an app version's images into the OCI layout (and an archive)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clusterbuild.cache.store import BlobStore
from clusterbuild.oci.digest import Digest
from clusterbuild.oci.model import Descriptor
from clusterbuild.places.archive import write_oci_archive
from clusterbuild.places.docker_archive import write_docker_archive
from clusterbuild.places.layout import OciLayout
from clusterbuild.plan.steps import ExportStep

Results = dict[str, dict[str, Any]]


def export_refs(step: ExportStep, results: Results) -> dict[str, Descriptor]:
    index_key, *image_keys = step.needs
    refs = {step.index_ref: Descriptor.from_json(results[index_key]["index"])}
    for ref, key in zip(step.platform_refs, image_keys, strict=True):
        manifest = Descriptor.from_json(results[key]["manifest"])
        refs[ref] = Descriptor(manifest.media_type, manifest.digest, manifest.size)
    return refs


def run_export(step: ExportStep, store: BlobStore, results: Results) -> dict[str, Any]:
    refs = export_refs(step, results)
    blobs = [Digest.parse(b) for b in results[step.needs[0]]["blobs"]]
    layout = OciLayout(step.layout)
    for digest in dict.fromkeys(blobs):
        layout.put_blob(store.path(digest), digest)
    layout.set_refs(refs)
    record: dict[str, Any] = {"refs": {name: d.to_json() for name, d in refs.items()}}
    files = {}
    if step.archive is not None:
        files[str(step.archive)] = write_oci_archive(step.archive, refs, blobs, store)
    for path, ref, key in zip(step.docker_archives, step.platform_refs, step.needs[1:], strict=False):
        files[str(path)] = write_docker_archive(path, ref, results[key], store)
    record["files"] = files
    return record


def export_present(step: ExportStep, record: dict[str, Any]) -> bool:
    """Is the layout (and archive) still as this export left it?"""
    layout = OciLayout(step.layout)
    current = layout.refs()
    wanted = {name: Descriptor.from_json(d) for name, d in record["refs"].items()}
    for name, desc in wanted.items():
        if name not in current or current[name].digest != desc.digest:
            return False
    if not all(layout.has_blob(d) for d in layout.reachable(wanted.values())):
        return False
    for name, size in record.get("files", {}).items():
        path = Path(name)
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True
