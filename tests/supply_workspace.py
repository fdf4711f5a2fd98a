"""A workspace whose app ``shop`` ships hand-made two-platform images from the test registry,
a chart from a chart repository and a per-arch binary from a local HTTP server: v1 and v2
differ in one image only (``beta``), for SBOM, diff and delta-bundle tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oci_push import OCI_INDEX, OCI_MANIFEST, digest_of, put_blob, put_manifest
from test_inputs_build import _publish

from conftest import copy_workspace

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"
SPEC = """\
inputs:
  - kind: chart
    repo: {url}/charts
    name: web
    version: 1.2.0
  - kind: binary
    url: {url}/bin/tool-linux-{{{{ arch_name }}}}.tar.gz
    arch_map: {{amd64: x86_64, arm64: aarch64}}
    member: tool/tool
    dest: opt/tool
"""


def push_image(registry: str, name: str, tag: str, payload: bytes) -> dict[str, Any]:
    """An index of linux/amd64 and linux/arm64 manifests, each with one layer of ``payload``
    (made distinct per platform) and a config; the index's descriptor."""
    manifests = []
    for arch in ("amd64", "arm64"):
        layer = put_blob(registry, name, payload + arch.encode() * 4096, LAYER)
        config_data = json.dumps({"architecture": arch, "os": "linux",
                                  "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode()
        config = put_blob(registry, name, config_data, CONFIG)
        body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
        desc = put_manifest(registry, name, digest_of(json.dumps(body, indent=2).encode()), body)
        manifests.append({**desc, "platform": {"architecture": arch, "os": "linux"}})
    return put_manifest(registry, name, tag, {"schemaVersion": 2, "mediaType": OCI_INDEX,
                                              "manifests": manifests})


def shop_workspace(tmp: Path, registry: str, url: str, www: Path) -> Path:
    """The workspace (example apps plus ``shop`` v1 and v2); images pushed, files published."""
    if not (www / "charts").exists():
        _publish(www, url)
    push_image(registry, "src/alpha", "1", b"alpha one " * 1000)
    push_image(registry, "src/beta", "1", b"beta one " * 1000)
    push_image(registry, "src/beta", "2", b"beta two " * 1000)
    ws = copy_workspace(tmp / "ws")
    for version, beta in (("v1", "1"), ("v2", "2")):
        app = ws / "applications/shop" / version
        (app / "images/shim").mkdir(parents=True)
        (app / "images/shim/list").write_text(f"{registry}/src/alpha:1\n{registry}/src/beta:{beta}\n")
        (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"helm upgrade -i web charts/web\"]\n")
        (app / "clusterbuild.yaml").write_text(SPEC.format(url=url))
    text = (ws / "apps.yaml").read_text()
    text = text.replace("apps:\n", f"registries:\n  insecure: [\"{registry}\"]\napps:\n")
    (ws / "apps.yaml").write_text(text + "  shop:\n    versions: [\"v1\", \"v2\"]\n")
    return ws
