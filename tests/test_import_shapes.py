"""End to end, the importer's newer shapes: each script is built the legacy way (init.sh run in
the sandbox against a local HTTP server) and the imported way (clusterbuild.yaml plus the files
the conversion writes, then lock and apply), and both images must hold the same files and labels
and ship the same images (read back with skopeo, and from the test registry).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from test_import import HEADER, VERSION, _content, _elf, _images, _workspace, seeded  # noqa: F401

from clusterbuild.importer import convert_init_sh, write_conversion

from conftest import apply_json, cli, tgz

pytestmark = pytest.mark.slow


def _labels(ws: Path, app: str, arch: str) -> dict[str, str]:
    ref = f"docker.io/labring/{app}:{VERSION}-{arch}"
    out = subprocess.run(["skopeo", "inspect", "--config", f"oci:{ws / 'out'}:{ref}"], check=True,
                         capture_output=True, text=True).stdout
    labels: dict[str, str] = json.loads(out)["config"].get("Labels") or {}
    return labels


def _both_ways(tmp: Path, app: str, script: str, registry: str, committed: dict[str, str]
               ) -> dict[str, dict[str, bytes]]:
    legacy, legacy_dir = _workspace(tmp / "legacy", app, {"init.sh": script}, registry)
    converted, app_dir = _workspace(tmp / "converted", app, {}, registry)
    for rel, text in committed.items():
        for base in (legacy_dir, app_dir):
            (base / rel).parent.mkdir(parents=True, exist_ok=True)
            (base / rel).write_text(text)
    apply_json(legacy, app)
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




def test_archive_directories_and_replace_build_what_the_script_builds(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    url, root = static_server
    plain = VERSION.lstrip("v")
    web = ("kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
           f"        - image: {seeded}/seed/web:1\n")
    (root / "shop").mkdir(exist_ok=True)
    (root / f"shop/{VERSION}.tar.gz").write_bytes(tgz({
        f"shop-{plain}/deploy/addons/web.yaml": web.encode(),
        f"shop-{plain}/deploy/addons/README.md": b"addons\n",
        f"shop-{plain}/src/main.go": b"package main\n"}))
    for arch in ("amd64", "arm64"):
        (root / f"shop/bundle-{arch}.tgz").write_bytes(tgz({
            "bin/tool": _elf(arch), "conf/app.yaml": b"port: 80\n", "conf/other.yaml": b"a: 1\n"}))
    committed = {"manifests/old.yaml": f"kind: Pod\nspec:\n  containers:\n    - image: {seeded}/seed/extra:1\n",  # noqa: E501
                 "manifests/keep/notes.txt": "old\n"}
    script = HEADER + (
        "rm -rf manifests\n"
        "mkdir -p manifests opt etc\n"
        f'wget -qO- "{url}/shop/${{VERSION}}.tar.gz" | tar -zx\n'
        'mv "shop-${VERSION#v}/deploy/addons" manifests/addons\n'
        "sed -i 's/seed\\/web:1/seed\\/sidecar:1.2.3/' manifests/addons/web.yaml\n"
        'rm -rf "shop-${VERSION#v}"\n'
        f'wget -qO- "{url}/shop/bundle-$ARCH.tgz" | tar -zx -C etc\n'
        "mv etc/bin/tool opt/tool\n"
        "sed -i 's/port: 80/port: 8080/' etc/conf/app.yaml\n")
    conversion = convert_init_sh(script, "shop")
    assert [i["kind"] for i in conversion.spec["inputs"]] == ["archive", "binary", "archive"]
    contents = _both_ways(tmp_path, "shop", script, seeded, committed)
    assert sorted(contents["arm64"]) == ["manifests/addons/README.md", "manifests/addons/web.yaml",
                                         "opt/tool"]
    assert contents["arm64"]["opt/tool"] == _elf("arm64")
    for arch in ("amd64", "arm64"):
        etc = _files(tmp_path / "converted", "shop", arch, tmp_path, "etc/")
        assert etc == _files(tmp_path / "legacy", "shop", arch, tmp_path, "etc/")
        assert etc == {"etc/conf/app.yaml": b"port: 8080\n", "etc/conf/other.yaml": b"a: 1\n"}
    assert _images(tmp_path / "converted", "shop") == {f"{seeded}/seed/sidecar:1.2.3"}  # not old.yaml's


def _files(ws: Path, app: str, arch: str, tmp: Path, prefix: str) -> dict[str, bytes]:
    copied = tmp / f"{ws.name}-{arch}-{prefix.strip('/')}"
    ref = f"docker.io/labring/{app}:{VERSION}-{arch}"
    subprocess.run(["skopeo", "copy", f"oci:{ws / 'out'}:{ref}", f"dir:{copied}"], check=True,
                   capture_output=True)
    out = {}
    for layer in json.loads((copied / "manifest.json").read_text())["layers"]:
        with tarfile.open(copied / layer["digest"].split(":")[1]) as tar:
            for member in tar:
                if member.isfile() and member.name.startswith(prefix):
                    out[member.name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    return out


def test_build_time_values_in_a_cmd_and_a_shipped_image_list_build_what_the_script_builds(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    script = HEADER + (
        "mkdir -p images/shim\n"
        f'echo "{seeded}/seed/sidecar:${{VERSION#v}}" > images/shim/sidecar\n'
        'cat <<EOF > "Kubefile"\nFROM scratch\nCOPY images images\nCOPY registry registry\n'
        'CMD ["echo installing $NAME ${VERSION}"]\nEOF\n')
    conversion = convert_init_sh(script, "shop")
    assert [i["kind"] for i in conversion.spec["inputs"]] == ["text", "text"]
    _both_ways(tmp_path, "shop", script, seeded, {})
    for arch in ("amd64", "arm64"):
        shim = [_files(tmp_path / name, "shop", arch, tmp_path, "images/")
                for name in ("legacy", "converted")]
        assert shim[0] == shim[1] == {"images/shim/sidecar": f"{seeded}/seed/sidecar:1.2.3\n".encode()}
        configs = [_config(tmp_path / name, "shop", arch) for name in ("legacy", "converted")]
        assert configs[0]["Cmd"] == configs[1]["Cmd"]
        assert f"echo installing shop {VERSION}" in str(configs[1]["Cmd"])
    assert _images(tmp_path / "converted", "shop") == {f"{seeded}/seed/sidecar:1.2.3"}


def _config(ws: Path, app: str, arch: str) -> dict[str, object]:
    ref = f"docker.io/labring/{app}:{VERSION}-{arch}"
    out = subprocess.run(["skopeo", "inspect", "--config", f"oci:{ws / 'out'}:{ref}"], check=True,
                         capture_output=True, text=True).stdout
    config: dict[str, object] = json.loads(out)["config"]
    return config


def test_parts_removed_from_a_chart_and_from_archive_directories_are_left_out(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    url, root = static_server
    plain = VERSION.lstrip("v")
    web = ("kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
           f"        - image: {seeded}/seed/web:1\n")
    test_pod = f"kind: Pod\nspec:\n  containers:\n    - image: {seeded}/seed/extra:1\n"
    (root / "shop").mkdir()
    (root / f"shop/{VERSION}.tar.gz").write_bytes(tgz({
        f"shop-{plain}/deploy/chart/Chart.yaml": b"apiVersion: v2\nname: web\nversion: 1.2.3\n",
        f"shop-{plain}/deploy/chart/values.yaml": b"replicas: 1\n",
        f"shop-{plain}/deploy/chart/templates/web.yaml": web.encode(),
        f"shop-{plain}/deploy/chart/templates/tests/pod.yaml": test_pod.encode(),
        f"shop-{plain}/deploy/addons/web.yaml": web.encode(),
        f"shop-{plain}/deploy/addons/docs/README.md": b"docs\n"}))
    (root / "shop/conf.tgz").write_bytes(tgz({"conf/app.yaml": web.encode(),
                                             "conf/old/pod.yaml": test_pod.encode()}))
    script = HEADER + (
        "mkdir -p charts manifests\n"
        f'wget -qO- "{url}/shop/${{VERSION}}.tar.gz" | tar -zx\n'
        'mv "shop-${VERSION#v}/deploy/chart" charts/web\n'
        'mv "shop-${VERSION#v}/deploy/addons" manifests/addons\n'
        'rm -rf "shop-${VERSION#v}" charts/web/templates/tests manifests/addons/docs\n'
        f'wget -qO- "{url}/shop/conf.tgz" | tar -zx -C manifests\n'
        "rm -rf manifests/conf/old\n")
    conversion = convert_init_sh(script, "shop")
    assert [(i["kind"], i.get("exclude")) for i in conversion.spec["inputs"]] == [
        ("chart", ["templates/tests", "templates/tests/*"]), ("archive", ["docs", "docs/*"]),
        ("archive", ["conf/old", "conf/old/*"])]
    contents = _both_ways(tmp_path, "shop", script, seeded, {})
    assert sorted(contents["amd64"]) == ["charts/web/Chart.yaml", "charts/web/templates/web.yaml",
                                         "charts/web/values.yaml", "manifests/addons/web.yaml",
                                         "manifests/conf/app.yaml"]
    assert _images(tmp_path / "converted", "shop") == {f"{seeded}/seed/web:1"}  # not the test pod's
