"""An inventory as an SPDX 2.3 JSON document, byte-reproducible.

One package for the cluster image (the app version), one per shipped image (checksum: the
root digest apps.lock pins; a purl per platform manifest), one per chart (name, version,
repository, archive digest), one per binary or file (per platform when it differs). The only
time is ``created`` (SOURCE_DATE_EPOCH, default 0) and the ``documentNamespace`` is derived
from the content, so equal inventories give equal bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from clusterbuild.supply.inventory import ALL, ImageItem, InputItem, Inventory

NAMESPACE_BASE = "https://clusterbuild.invalid/spdx"  # .invalid: never resolvable (RFC 2606)
# SPDX download locations name a host with a top-level domain (what spdx-tools accepts); a URL
# of an IP address or a bare host name is kept in sourceInfo instead.
_LOCATION = re.compile(r"^(https?|ftp|sftp|ssh|git|svn)://([^@/]+@)?[a-z0-9]+([-.][a-z0-9]+)*\.[a-z]{2,5}"
                       r"(:[0-9]{1,5})?(/.*)?$", re.IGNORECASE)
_PURPOSE = {"chart": "APPLICATION", "binary": "FILE", "manifest": "FILE", "url": "FILE",
            "archive": "ARCHIVE", "file": "FILE", "init.sh": "FILE"}


def timestamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def self_named(doc: dict[str, Any], field: str, name: Callable[[bytes], str]) -> bytes:
    """``canonical(doc)`` once ``doc[field]`` (empty, at the top level) is ``name(canonical(doc))``:
    the document is encoded once (the indenting encoder is pure Python), the field filled in
    its text (a top-level key is the only one at two spaces of indent; a string's quotes are
    escaped, so none can look like it)."""
    assert doc[field] == ""
    text = canonical(doc)
    marker = f'\n  "{field}": ""'.encode()
    assert text.count(marker) == 1
    return text.replace(marker, f'\n  "{field}": {json.dumps(name(text), ensure_ascii=False)}'.encode())


def _spdx_id(kind: str, n: int, name: str) -> str:
    return f"SPDXRef-{kind}-{n}-" + (re.sub(r"[^A-Za-z0-9.-]+", "-", name).strip("-") or "x")


def image_purl(image: ImageItem, platform: str, digest: str) -> str:
    """``pkg:oci/<name>@<digest>?arch=…&repository_url=…&tag=…`` (the purl spec's oci type)."""
    repository = image.reference.rsplit("@", 1)[0]
    name_and_tag = repository.rsplit("/", 1)[-1]
    name, _, tag = name_and_tag.partition(":")
    repo_url = repository[: len(repository) - len(name_and_tag)] + name
    qualifiers = {"repository_url": repo_url, "tag": tag}
    if platform:
        qualifiers["arch"] = platform.split("/")[1] if "/" in platform else platform
    query = "&".join(f"{k}={quote(v, safe='/:.-_')}" for k, v in sorted(qualifiers.items()) if v)
    return f"pkg:oci/{quote(name)}@{quote(digest, safe='')}?{query}"


def _image_package(n: int, image: ImageItem) -> dict[str, Any]:
    package: dict[str, Any] = {
        "SPDXID": _spdx_id("Image", n, image.reference), "name": image.reference,
        "versionInfo": image.root or "NOASSERTION", "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False, "primaryPackagePurpose": "CONTAINER", "supplier": "NOASSERTION",
        "sourceInfo": f"pulled from registry {image.registry}",
        "comment": "shipped in registry/ under its tag; platforms: "
                   + (", ".join(f"{p} {d}" for p, d in image.platforms) or "not pulled yet")}
    if image.root:
        package["checksums"] = [{"algorithm": "SHA256", "checksumValue": image.root.split(":", 1)[1]}]
        refs = [("", image.root)] + [(p, d) for p, d in image.platforms if d != image.root]
        package["externalRefs"] = [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                    "referenceLocator": image_purl(image, p, d)} for p, d in refs]
    return package


def _input_package(n: int, item: InputItem) -> dict[str, Any]:
    where = "" if item.platform == ALL else f" [{item.platform}]"
    package: dict[str, Any] = {
        "SPDXID": _spdx_id(item.kind.replace(".", "-").capitalize(), n, item.name + where),
        "name": item.name, "downloadLocation": item.url if _LOCATION.match(item.url) else "NOASSERTION",
        "filesAnalyzed": False, "primaryPackagePurpose": _PURPOSE.get(item.kind, "OTHER"),
        "supplier": "NOASSERTION",
        "comment": f"{item.kind}{where}" + (f", {item.input_id}" if item.input_id else "")
                   + (f", from {item.url}" if item.url and "://" not in item.url else "")}
    if item.version:
        package["versionInfo"] = item.version
    if item.sha256:
        package["checksums"] = [{"algorithm": "SHA256", "checksumValue": item.sha256}]
    source = [f"downloaded from {item.url}"] if "://" in item.url else []
    source += [f"chart repository {item.repository}"] if item.repository else []
    if source:
        package["sourceInfo"] = "; ".join(source)
    if item.kind == "chart" and item.version:
        package["externalRefs"] = [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                    "referenceLocator": f"pkg:helm/{quote(item.name)}@{quote(item.version)}"}]
    return package


def spdx_document(inv: Inventory) -> dict[str, Any]:
    """The document, its ``documentNamespace`` (a digest of the rest) left empty: ``spdx_bytes``."""
    root_id = "SPDXRef-ClusterImage"
    root: dict[str, Any] = {"SPDXID": root_id, "name": inv.image_ref, "versionInfo": inv.version,
            "downloadLocation": "NOASSERTION", "filesAnalyzed": False, "supplier": "NOASSERTION",
            "primaryPackagePurpose": "CONTAINER",
            "comment": f"Sealos cluster image {inv.name} for {', '.join(inv.platforms)}"}
    packages = [root]
    packages += [_image_package(n, image) for n, image in enumerate(inv.images)]
    packages += [_input_package(n, item) for n, item in enumerate(inv.inputs)]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": root_id}]
    relationships += [{"spdxElementId": root_id, "relationshipType": "CONTAINS",
                       "relatedSpdxElement": p["SPDXID"]} for p in packages[1:]]
    doc: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{inv.app}-{inv.version}",
        "documentNamespace": "",
        "creationInfo": {"created": timestamp(inv.created),
                         "creators": [f"Tool: clusterbuild-{inv.tool_version}"]},
        "packages": packages, "relationships": relationships}
    return doc


def _namespace(inv: Inventory) -> Callable[[bytes], str]:
    base = f"{NAMESPACE_BASE}/{quote(inv.app)}/{quote(inv.version)}"
    return lambda text: f"{base}/{hashlib.sha256(text).hexdigest()}"


def spdx_bytes(inv: Inventory) -> bytes:
    return self_named(spdx_document(inv), "documentNamespace", _namespace(inv))
