"""An inventory as a CycloneDX 1.5 JSON BOM, byte-reproducible (serial number derived from
the content, timestamp SOURCE_DATE_EPOCH)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from clusterbuild.supply.inventory import ALL, Inventory
from clusterbuild.supply.sbom import image_purl, self_named, timestamp


def _hashes(hex_: str) -> list[dict[str, str]]:
    return [{"alg": "SHA-256", "content": hex_}] if hex_ else []


def _components(inv: Inventory) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, image in enumerate(inv.images):
        component: dict[str, Any] = {
            "type": "container", "bom-ref": f"image-{n}", "name": image.reference,
            "version": image.root or "unpinned",
            "properties": [{"name": "clusterbuild:registry", "value": image.registry}] + [
                {"name": f"clusterbuild:platform:{p}", "value": d} for p, d in image.platforms]}
        if image.root:
            component["hashes"] = _hashes(image.root.split(":", 1)[1])
            component["purl"] = image_purl(image, "", image.root)
        out.append(component)
    for n, item in enumerate(inv.inputs):
        component = {"type": "application" if item.kind == "chart" else "file", "bom-ref": f"input-{n}",
                     "name": item.name, "version": item.version or "",
                     "properties": [{"name": "clusterbuild:kind", "value": item.kind},
                                    {"name": "clusterbuild:platform", "value": item.platform}]}
        if not component["version"]:
            del component["version"]
        if item.sha256:
            component["hashes"] = _hashes(item.sha256)
        if "://" in item.url:
            component["externalReferences"] = [{"type": "distribution", "url": item.url}]
        if item.repository:
            component["properties"].append({"name": "clusterbuild:repository", "value": item.repository})
        if item.platform == ALL:
            component["properties"].pop(1)
        out.append(component)
    return out


def cyclonedx_document(inv: Inventory) -> dict[str, Any]:
    """The document, its ``serialNumber`` (from a digest of the rest) left empty: ``cyclonedx_bytes``."""
    components = _components(inv)
    doc: dict[str, Any] = {
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "serialNumber": "",
        "metadata": {"timestamp": timestamp(inv.created),
                     "tools": {"components": [{"type": "application", "name": "clusterbuild",
                                               "version": inv.tool_version}]},
                     "component": {"type": "container", "bom-ref": "cluster-image",
                                   "name": inv.image_ref, "version": inv.version}},
        "components": components,
        "dependencies": [{"ref": "cluster-image", "dependsOn": [c["bom-ref"] for c in components]}]
                        + [{"ref": c["bom-ref"]} for c in components]}
    return doc


def _serial(text: bytes) -> str:
    return f"urn:uuid:{uuid.UUID(bytes=hashlib.sha256(text).digest()[:16], version=5)}"


def cyclonedx_bytes(inv: Inventory) -> bytes:
    return self_named(cyclonedx_document(inv), "serialNumber", _serial)
