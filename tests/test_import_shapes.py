"""End to end, the importer's newer shapes: each script is built the legacy way (init.sh run in
the sandbox against a local HTTP server) and the imported way (clusterbuild.yaml plus the files
the conversion writes, then lock and apply), and both images must hold the same files and labels
and ship the same images (read back with skopeo, and from the test registry).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from test_import import HEADER, VERSION, _content, _images, _workspace, seeded  # noqa: F401

from clusterbuild.importer import convert_init_sh, write_conversion

from conftest import apply_json, cli

pytestmark = pytest.mark.slow


def _labels(ws: Path, app: str, arch: str) -> dict[str, str]:
    ref = f"docker.io/labring/{app}:{VERSION}-{arch}"
    out = subprocess.run(["skopeo", "inspect", "--config", f"oci:{ws / 'out'}:{ref}"], check=True,
                         capture_output=True, text=True).stdout
    labels: dict[str, str] = json.loads(out)["config"].get("Labels") or {}
    return labels


def _both_ways(tmp: Path, app: str, script: str, registry: str, committed: dict[str, str]
               ) -> dict[str, dict[str, bytes]]:
    legacy, _ = _workspace(tmp / "legacy", app, {"init.sh": script, **committed}, registry)
    apply_json(legacy, app)
    converted, app_dir = _workspace(tmp / "converted", app, committed, registry)
    conversion = convert_init_sh(script, app, app_dir=app_dir)
    assert [s for s in conversion.skipped if ": not needed (" not in s] == []
    write_conversion(app_dir, conversion)
    (app_dir.parent / "README.md").write_text(f"# {app}\n")
    cli("check", "-C", str(converted), app)
    cli("lock", "-C", str(converted), app)
    apply_json(converted, app, "--frozen")
    contents = {}
    for arch in ("amd64", "arm64"):
        contents[arch] = _content(legacy, app, arch, tmp)
        assert _content(converted, app, arch, tmp) == contents[arch]
        assert _labels(converted, app, arch) == _labels(legacy, app, arch)
    assert _images(converted, app) == _images(legacy, app)
    return contents


def test_a_heredoc_kubefile_and_sed_substitutions_build_what_the_script_builds(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    url, root = static_server
    manifest = ("kind: Deployment\nmetadata:\n  namespace: default\nspec:\n  template:\n    spec:\n"
                f"      containers:\n        - image: {seeded}/seed/web:1\n"
                f"        - image: {seeded}/seed/sidecar:0.0.0@sha256:{'a' * 64}\n")
    (root / f"shop/{VERSION}").mkdir(parents=True)
    (root / f"shop/{VERSION}/install.yaml").write_text(manifest)
    script = HEADER + (
        "mkdir -p manifests\n"
        f"wget -q {url}/shop/${{VERSION}}/install.yaml -O manifests/install.yaml\n"
        'sed -i "s#namespace: default#namespace: shop#g" manifests/install.yaml\n'
        "sed -i 's/@sha256:[a-f0-9]\\{64\\}//g' manifests/install.yaml\n"
        'sed -i "s#sidecar:0.0.0#sidecar:${VERSION#v}#" manifests/install.yaml\n'
        'cat <<EOF > "Kubefile"\nFROM scratch\nLABEL shop.version="${VERSION}" shop.arch=$ARCH\n'
        'COPY manifests manifests\nCOPY registry registry\nCMD ["kubectl apply -f manifests"]\nEOF\n')
    contents = _both_ways(tmp_path, "shop", script, seeded, {})
    edited = contents["amd64"]["manifests/install.yaml"].decode()
    assert "namespace: shop" in edited and f"{seeded}/seed/sidecar:1.2.3\n" in edited
    assert _labels(tmp_path / "converted", "shop", "arm64") == {"shop.version": VERSION, "shop.arch": "arm64"}
    assert _images(tmp_path / "converted", "shop") == {f"{seeded}/seed/web:1", f"{seeded}/seed/sidecar:1.2.3"}


