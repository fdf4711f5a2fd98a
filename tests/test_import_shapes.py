"""End to end, the importer's newer shapes: each script is built the legacy way (init.sh run in
the sandbox against a local HTTP server) and the imported way (clusterbuild.yaml plus the files
the conversion writes, then lock and apply), and both images must hold the same files and labels
and ship the same images (read back with skopeo, and from the test registry).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
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


def _both_ways(tmp: Path, app: str, script: str, registry: str, committed: dict[str, str],
               legacy_setup: str = "", mirrors: dict[str, str] | None = None) -> dict[str, dict[str, bytes]]:
    """``legacy_setup``: lines the legacy run has after the header (pointing git at a local
    server), as ``mirrors`` (downloads.mirrors) point the converted build's downloads."""
    legacy_script = script.replace(HEADER, HEADER + legacy_setup, 1)
    legacy, legacy_dir = _workspace(tmp / "legacy", app, {"init.sh": legacy_script}, registry)
    converted, app_dir = _workspace(tmp / "converted", app, {}, registry)
    if mirrors:
        text = (converted / "apps.yaml").read_text()
        (converted / "apps.yaml").write_text(f"downloads:\n  mirrors: {json.dumps(mirrors)}\n" + text)
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


def _git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def _repository(root: Path, name: str, files: dict[str, str], tag: str | None) -> Path:
    """A bare repository ``root/name.git`` holding ``files`` in one commit (tagged ``tag``)."""
    work = root / "work" / name
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "one")
    if tag:
        _git(work, "tag", tag)
    bare = root / f"{name}.git"
    _git(root, "clone", "-q", "--bare", str(work), str(bare))
    return work


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real git daemon on 127.0.0.1 serving the bare repositories under the root: (URL, root)."""
    root = tmp_path / "git"
    root.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={root}",
                               "--listen=127.0.0.1", f"--port={port}", str(root)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        time.sleep(0.05)
    yield f"git://127.0.0.1:{port}/", root
    daemon.terminate()
    daemon.wait(timeout=10)


def test_git_clones_of_github_repositories_build_what_the_script_builds(
        tmp_path: Path, static_server: tuple[str, Path], git_server: tuple[str, Path],
        seeded: str) -> None:  # noqa: F811
    url, www = static_server
    git_url, git_root = git_server
    deploy = ("kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
              "        - image: {}\n")
    shop = _repository(git_root / "org", "shop", {
        "ci/helm-chart/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 1.2.3\n",
        "ci/helm-chart/values.yaml": f"image: {seeded}/seed/web:1\n",
        "ci/helm-chart/templates/web.yaml": deploy.format("{{ .Values.image }}"),
        "deploy/addons/web.yaml": deploy.format(f"{seeded}/seed/sidecar:1.2.3"),
        "deploy/addons/notes.txt": "notes\n", "deploy/extra.yaml": "kind: ConfigMap\n",
        "README.md": "shop\n"}, VERSION)
    catalog = _repository(git_root / "org", "catalog", {
        "addons/velaux/metadata.yaml": "name: velaux\nversion: v1.9.0\n",
        "addons/velaux/resources/ui.yaml": deploy.format(f"{seeded}/seed/extra:1"),
        "addons/other/metadata.yaml": "name: other\n"}, None)
    # GitHub's source archives of the same trees, under GitHub's paths on the static server
    archives = www / "gh/org"
    (archives / "shop/archive/refs/tags").mkdir(parents=True)
    (archives / "catalog/archive").mkdir(parents=True)
    sha = _git(catalog, "rev-parse", "HEAD").strip()
    for work, prefix, ref, target in ((shop, f"shop-{VERSION.lstrip('v')}/", VERSION,
                                       f"shop/archive/refs/tags/{VERSION}.tar.gz"),
                                      (catalog, f"catalog-{sha}/", "HEAD", "catalog/archive/HEAD.tar.gz")):
        _git(work, "archive", "--format=tar.gz", f"--prefix={prefix}", "-o", str(archives / target), ref)
    script = HEADER + (
        "mkdir -p charts manifests\n"
        "git clone https://github.com/org/shop.git -b ${VERSION} --depth=1\n"
        "cp -r shop/ci/helm-chart/ charts/shop\n"
        "cp -r shop/deploy/addons manifests/addons\n"
        "cp shop/deploy/extra.yaml manifests/\n"
        "rm -rf shop\n"
        "git clone -q https://github.com/org/catalog --depth=1\n"
        "cp -r catalog/addons/velaux/ manifests/\n"
        "rm -rf catalog\n")
    conversion = convert_init_sh(script, "shop")
    tag = "https://github.com/org/shop/archive/refs/tags/{{ version }}.tar.gz"
    assert [(i["url"], i["path"], i["dest"]) for i in conversion.spec["inputs"]] == [
        (tag, "*/ci/helm-chart", "charts/shop"), (tag, "*/deploy/addons", "manifests/addons"),
        (tag, "*/deploy/extra.yaml", "manifests"),
        ("https://github.com/org/catalog/archive/HEAD.tar.gz", "*/addons/velaux", "manifests/velaux")]
    setup = f'git config --global url."{git_url}".insteadOf https://github.com/\n'
    contents = _both_ways(tmp_path, "shop", script, seeded, {}, setup, {"https://github.com/": f"{url}/gh/"})
    assert sorted(contents["amd64"]) == [
        "charts/shop/Chart.yaml", "charts/shop/templates/web.yaml", "charts/shop/values.yaml",
        "manifests/addons/notes.txt", "manifests/addons/web.yaml", "manifests/extra.yaml",
        "manifests/velaux/metadata.yaml", "manifests/velaux/resources/ui.yaml"]
    assert _images(tmp_path / "converted", "shop") == {
        f"{seeded}/seed/web:1", f"{seeded}/seed/sidecar:1.2.3", f"{seeded}/seed/extra:1"}


def test_a_clone_left_in_place_or_moved_whole_is_to_do() -> None:
    script = HEADER + ("git clone https://github.com/org/shop.git --depth=1\nmv shop manifests\n"
                       "git clone https://github.com/org/tools.git\n"
                       "git clone https://gitlab.com/org/other.git\ngit --version\n")
    conversion = convert_init_sh(script, "shop")
    left = "convertible (leaves the clone in {}, .git included, which GitHub's source archive lacks: copy " \
        "what it needs out of it, then remove it)"
    assert [s.split(": not ", 1)[1] for s in conversion.skipped if ": not needed (" not in s] == [
        left.format("shop"),
        "convertible (moves the whole clone shop, .git included, which GitHub's source archive lacks: "
        "name the directories it needs)",
        left.format("tools"),
        "convertible (clones https://gitlab.com/org/other.git, not a GitHub repository: its source archive "
        "is not known)"]
    assert conversion.spec["inputs"] == []


def test_lines_piped_into_sed_r_dev_stdin_build_what_the_script_builds(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    url, root = static_server
    (root / f"net/{VERSION}").mkdir(parents=True)
    (root / f"net/{VERSION}/daemonset.yml").write_text(
        "kind: DaemonSet\nspec:\n  template:\n    spec:\n      initContainers:\n"
        f"        - name: first\n          image: {seeded}/seed/web:1\n      volumes:\n"
        "        - name: cni\n          hostPath:\n            path: /etc/cni\n")
    script = HEADER + (
        f"wget -q -N -P manifests/ {url}/net/${{VERSION}}/daemonset.yml\n"
        f'plugin_image="{seeded}/seed/sidecar:${{VERSION#v}}"\n'
        "cat << EOF | sed -i '/^\\s*initContainers/ r /dev/stdin' manifests/daemonset.yml\n"
        "        - name: install-plugin\n"
        '          image: "${plugin_image}"\n'
        '          args: ["-c", "cp -f /plugins/* /opt/cni/bin/"]\n'
        "EOF\n"
        "cat << 'EOF' | sed -i '/^\\s*volumes/ r /dev/stdin' manifests/daemonset.yml\n"
        "        - name: plugin-dir\n          hostPath:\n            path: /opt/cni/bin\n"
        "EOF\n")
    conversion = convert_init_sh(script, "net")
    assert [e["kind"] for e in conversion.spec["inputs"][0]["edits"]] == ["sed", "sed"]
    contents = _both_ways(tmp_path, "net", script, seeded, {})
    edited = contents["amd64"]["manifests/daemonset.yml"].decode()
    assert "      initContainers:\n        - name: install-plugin\n" in edited
    assert f'          image: "{seeded}/seed/sidecar:1.2.3"\n' in edited
    assert "      volumes:\n        - name: plugin-dir\n          hostPath:\n" in edited
    assert _images(tmp_path / "converted", "net") == {f"{seeded}/seed/web:1", f"{seeded}/seed/sidecar:1.2.3"}
