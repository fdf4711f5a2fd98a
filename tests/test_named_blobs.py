"""Blobs of a vendored registry/ tree are planned by the digest their path names (no read)
and checked while the layer is written: one read of each, and other bytes are refused."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from conftest import apply_json, cli

APP = "vendored"


def _add_app(ws: Path, data: bytes) -> Path:
    app = ws / "applications" / APP / "latest"
    hex_ = hashlib.sha256(data).hexdigest()
    blob = app / f"registry/docker/registry/v2/blobs/sha256/{hex_[:2]}/{hex_}/data"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data)
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"true\"]\n")
    apps_yaml = ws / "apps.yaml"
    apps_yaml.write_text(apps_yaml.read_text() + f"  {APP}:\n    versions: [\"v1\"]\n"
                         "    platforms: [linux/amd64]\n")
    return blob


def _layer_holding(ws: Path, data: bytes) -> bool:
    """Is there an uncompressed layer in out/ whose bytes contain ``data``?"""
    blobs = ws / "out/blobs/sha256"
    return any(data in p.read_bytes() for p in blobs.iterdir() if p.stat().st_size > len(data))


def test_a_named_blob_ships_as_is(workspace: Path) -> None:
    data = os.urandom(1 << 16)
    _add_app(workspace, data)
    result = apply_json(workspace, APP)
    assert result["failures"] == [] and _layer_holding(workspace, data)
    assert apply_json(workspace, APP)["ran"] == []


def test_a_blob_that_is_not_what_its_path_names_is_refused(workspace: Path) -> None:
    blob = _add_app(workspace, os.urandom(1 << 16))
    blob.write_bytes(os.urandom(1 << 16))  # other bytes under the same name
    proc = cli("apply", "-C", str(workspace), "--json", APP, check=False)
    assert proc.returncode == 3, proc.stderr
    failures = json.loads(proc.stdout)["failures"]
    assert "does not hold the blob its path names" in json.dumps(failures)
    assert str(blob) in json.dumps(failures)
    assert "unexpected" not in proc.stderr + proc.stdout
    index = workspace / "out/index.json"
    assert not index.exists() or f"{APP}:v1" not in index.read_text()
