"""SBOMs end to end: built from the plan and apps.lock, validated by spdx-tools and
cyclonedx-python-lib, byte-identical across clean builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from supply_workspace import shop_workspace

from conftest import apply_json, cli, copy_workspace

pytestmark = pytest.mark.slow


def _valid(path: Path) -> None:
    assert validate_full_spdx_document(parse_file(str(path))) == []
    cdx = path.with_name(path.name.replace(".spdx.json", ".cdx.json"))
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(cdx.read_text()) is None


def test_example_apps_sboms_validate(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    apply_json(ws)
    for name in ("hello-chart-v0.1.0", "hello-tools-v1.0.0"):
        _valid(ws / "out/sbom" / f"{name}.spdx.json")
    doc = json.loads((ws / "out/sbom/hello-chart-v0.1.0.spdx.json").read_text())
    assert {(p["name"], p.get("versionInfo")) for p in doc["packages"]} >= {("hello-chart", "0.1.0")}


@pytest.fixture
def shop(tmp_path: Path, registry: str, static_server: tuple[str, Path]) -> Path:
    url, www = static_server
    return shop_workspace(tmp_path, registry, url, www)


def test_sbom_names_every_image_chart_and_binary_with_the_lock_digests(shop: Path, tmp_path: Path) -> None:
    apply_json(shop, "shop")
    path = shop / "out/sbom/shop-v1.spdx.json"
    _valid(path)
    lock = yaml.safe_load((shop / "apps.lock").read_text())
    doc = json.loads(path.read_text())
    by_name = {p["name"]: p for p in doc["packages"]}
    for ref, digest in lock["images"].items():
        if ref.endswith(("alpha:1", "beta:1")):
            package = by_name[ref]
            assert package["checksums"] == [{"algorithm": "SHA256", "checksumValue": digest.split(":")[1]}]
            purls = [r["referenceLocator"] for r in package["externalRefs"]]
            assert len(purls) == 3 and all(p.startswith("pkg:oci/") for p in purls)  # index + 2 platforms
    inputs = lock["inputs"]["shop"]["v1"]
    checksums = {c["checksumValue"] for p in doc["packages"] for c in p.get("checksums", [])}
    assert {e["sha256"] for entries in inputs.values() for e in entries.values()} <= checksums
    assert by_name["web"]["versionInfo"] == "1.2.0"
    chart_url = inputs["inputs[0]"]["*"]["url"]  # an IP address: spdx-tools wants a domain there
    assert by_name["web"]["downloadLocation"] == "NOASSERTION"
    assert by_name["web"]["sourceInfo"].startswith(f"downloaded from {chart_url}")
    tools = [p for p in doc["packages"] if p["name"] == "opt/tool"]
    assert len(tools) == 2  # one per architecture
    printed = cli("sbom", "-C", str(shop), "shop:v1").stdout
    assert printed == path.read_text()

    clean = copy_workspace(tmp_path / "clean")
    for name in ("apps.yaml", "apps.lock"):
        (clean / name).write_text((shop / name).read_text())
    import shutil
    shutil.copytree(shop / "applications/shop", clean / "applications/shop")
    apply_json(clean, "shop", "--frozen")
    for name in ("shop-v1.spdx.json", "shop-v1.cdx.json", "shop-v2.spdx.json"):
        assert (clean / "out/sbom" / name).read_bytes() == (shop / "out/sbom" / name).read_bytes()


def test_sboms_are_encoded_only_when_their_inventory_changes(tmp_path: Path) -> None:
    import hashlib

    ws = copy_workspace(tmp_path / "ws")
    apply_json(ws)
    sboms = ws / "out/sbom"
    spdx = sboms / "hello-chart-v0.1.0.spdx.json"
    made = spdx.read_bytes()
    stamps = json.loads((sboms / ".made-from.json").read_text())
    assert set(stamps["files"]) == {p.name for p in sboms.glob("*.json") if not p.name.startswith(".")}

    spdx.write_bytes(b"{}\n")  # damaged: its bytes no longer match the stamp, so it is made again
    apply_json(ws)
    assert spdx.read_bytes() == made

    # a no-op apply trusts the stamp: a document whose stamp records its bytes is not encoded
    # (shown by one whose stamp was made to record other bytes: it stays as it is)
    other = made.replace(b'"SPDX-2.3"', b'"SPDX-2.3" ')
    spdx.write_bytes(other)
    stamps["files"][spdx.name][1] = hashlib.sha256(other).hexdigest()
    (sboms / ".made-from.json").write_text(json.dumps(stamps))
    apply_json(ws)
    assert spdx.read_bytes() == other

    (sboms / ".made-from.json").write_text("not json")  # unreadable stamps: everything made again
    apply_json(ws)
    assert spdx.read_bytes() == made
    assert json.loads((sboms / ".made-from.json").read_text())["files"][spdx.name][1] == \
        hashlib.sha256(made).hexdigest()

    config = ws / "apps.yaml"  # a new inventory (the image name changes): a new document
    config.write_text(config.read_text().replace("registry: docker.io/labring", "registry: quay.io/other"))
    apply_json(ws)
    assert b"quay.io/other/hello-chart:v0.1.0" in spdx.read_bytes()
    assert b"docker.io/labring" not in spdx.read_bytes()
    _valid(spdx)
