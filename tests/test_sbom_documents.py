"""SPDX and CycloneDX documents of hand-made inventories: valid, reproducible, exact."""

from __future__ import annotations

import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from clusterbuild.supply.cyclonedx import cyclonedx_bytes
from clusterbuild.supply.inventory import ImageItem, InputItem, Inventory
from clusterbuild.supply.sbom import spdx_bytes

INDEX = "sha256:" + "1" * 64
AMD = "sha256:" + "2" * 64
INV = Inventory(
    "web", "v1", "0.1.0", ("linux/amd64",), "docker.io/labring/web:v1",
    (ImageItem("quay.io/org/web:1.0", "quay.io", INDEX, (("linux/amd64", AMD),)),),
    (InputItem("chart", "web", "*", "3" * 64, "https://charts.example.com/web-1.2.0.tgz", "1.2.0",
               "https://charts.example.com"),
     InputItem("binary", "opt/helm", "linux/amd64", "4" * 64, "http://10.0.0.1/helm.tgz")), 0)


def test_spdx_is_valid_and_names_every_item() -> None:
    doc = json.loads(spdx_bytes(INV))
    assert validate_full_spdx_document(JsonLikeDictParser().parse(doc)) == []
    packages = {p["name"]: p for p in doc["packages"]}
    assert packages["quay.io/org/web:1.0"]["checksums"][0]["checksumValue"] == "1" * 64
    assert [r["referenceLocator"] for r in packages["quay.io/org/web:1.0"]["externalRefs"]] == [
        f"pkg:oci/web@sha256%3A{'1' * 64}?repository_url=quay.io/org/web&tag=1.0",
        f"pkg:oci/web@sha256%3A{'2' * 64}?arch=amd64&repository_url=quay.io/org/web&tag=1.0"]
    assert packages["web"]["downloadLocation"] == "https://charts.example.com/web-1.2.0.tgz"
    assert packages["opt/helm"]["downloadLocation"] == "NOASSERTION"  # no domain: in sourceInfo
    assert "http://10.0.0.1/helm.tgz" in packages["opt/helm"]["sourceInfo"]
    assert doc["creationInfo"]["created"] == "1970-01-01T00:00:00Z"


def test_documents_are_reproducible_and_their_namespace_follows_the_content() -> None:
    assert spdx_bytes(INV) == spdx_bytes(INV) and cyclonedx_bytes(INV) == cyclonedx_bytes(INV)
    other = Inventory(INV.app, INV.version, INV.tool_version, INV.platforms, INV.image_ref,
                      INV.images[:0], INV.inputs, 0)
    ns = [json.loads(spdx_bytes(i))["documentNamespace"] for i in (INV, other)]
    assert ns[0] != ns[1] and all(n.startswith("https://clusterbuild.invalid/spdx/web/v1/") for n in ns)


def test_cyclonedx_is_valid() -> None:
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(cyclonedx_bytes(INV).decode()) is None
    doc = json.loads(cyclonedx_bytes(INV))
    assert [c["name"] for c in doc["components"]] == ["quay.io/org/web:1.0", "web", "opt/helm"]


def test_inventory_round_trips_through_json() -> None:
    assert Inventory.from_json(json.loads(json.dumps(INV.to_json()))) == INV


def test_release_diff_by_repository_inputs_and_values() -> None:
    from clusterbuild.supply.diff import release_diff

    bumped = ImageItem("quay.io/org/web:1.1", "quay.io", "sha256:" + "9" * 64)
    added = ImageItem("quay.io/org/sidecar:2", "quay.io", "sha256:" + "8" * 64)
    chart = InputItem("chart", "web", "*", "5" * 64, INV.inputs[0].url, "1.3.0")
    new = Inventory("web", "v2", "0.1.0", INV.platforms, INV.image_ref, (bumped, added),
                    (chart, INV.inputs[1]), 0)
    values = {"web": ({"image": {"tag": "1.0"}, "replicas": 1}, {"image": {"tag": "1.1"}, "replicas": 1})}
    diff = release_diff(INV, new, values)
    assert [c.line() for c in diff.changes] == [
        "+ image quay.io/org/sidecar: 2@888888888888",
        "~ image quay.io/org/web: 1.0@111111111111 -> 1.1@999999999999",
        "~ chart web: 1.2.0 333333333333 -> 1.3.0 555555555555",
        "~ values web image.tag: 1.0 -> 1.1"]
    assert release_diff(INV, INV).changes == ()
