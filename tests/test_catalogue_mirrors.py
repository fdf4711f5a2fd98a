"""The real catalogue specs, unchanged, build once their URLs answer: downloads.mirrors and
registries.mirrors point at servers on 127.0.0.1 that this test fills with small charts,
binaries, archives, manifests and images of the same names (written here, not fetched).
Every other address goes to a dead proxy, so nothing leaves the machine."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXAMPLE, REPO, apply_json, cli, running_registry, tgz

# one app of each shape: chart by app version, the rootfs, a binary, a manifest, images only
APPS = ("kubernetes", "ingress-nginx", "helm", "rabbitmq", "busybox", "nginx", "local-path-provisioner")
ELF = {"amd64": 62, "arm64": 183}
DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens: any address that is not a mirror fails at once


def _elf(arch: str, name: str) -> bytes:
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + (2).to_bytes(2, "little")
    return header + ELF[arch].to_bytes(2, "little") + b"\0" * 44 + f"{name} for {arch}".encode()


def _mirrored(root: Path, url: str) -> Path:
    """Where the download mirror keeps ``url`` (https://host/path -> root/host/path)."""
    path = root / url.split("://", 1)[1].split("?", 1)[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _arch_of(platform: str) -> str:
    return platform.split("/")[1] if platform != "*" else "amd64"


def _chart_files(where: str, name: str, version: str, app_version: str) -> dict[str, bytes]:
    return {
        f"{where}/Chart.yaml": (f"apiVersion: v2\nname: {name}\nversion: {version}\n"
                                f"appVersion: '{app_version}'\n").encode(),
        f"{where}/values.yaml": b"replicaCount: 1\ncontroller: {image: {digest: ''}}\n",
        f"{where}/templates/deployment.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + "}\nspec:\n  template:\n"
            "    spec:\n      containers:\n        - name: main\n"
            f"          image: quay.io/catalogue-test/{name}:{{{{ .Chart.AppVersion }}}}\n").encode()}


def _publish_chart(root: Path, fields: dict[str, Any]) -> None:
    name = fields["name"]
    app_version = fields.get("app_version") or fields.get("version") or "1.0.0"
    version = fields.get("version") or f"1.0.{sum(map(ord, app_version))}"  # one chart per app version
    if fields.get("url"):  # a chart inside a source archive, at path
        where = (fields.get("path") or name).strip("/")
        _mirrored(root, fields["url"]).write_bytes(tgz(_chart_files(where, name, version, app_version)))
        return
    chart = tgz(_chart_files(name, name, version, app_version))
    repo = fields["repo"].rstrip("/")
    (_mirrored(root, f"{repo}/{name}-{version}.tgz")).write_bytes(chart)
    index_path = _mirrored(root, f"{repo}/index.yaml")
    index = yaml.safe_load(index_path.read_text()) if index_path.exists() else {"apiVersion": "v1",
                                                                                "entries": {}}
    index["entries"].setdefault(name, []).append({
        "name": name, "version": version, "appVersion": app_version, "urls": [f"{name}-{version}.tgz"],
        "digest": hashlib.sha256(chart).hexdigest()})
    index_path.write_text(yaml.safe_dump(index))


def _members(plan: Any) -> dict[str, bytes] | None:
    """The archive members an input takes (None: the download is the file itself)."""
    fields, arch = plan.fields, _arch_of(plan.platform)
    if plan.kind == "binary" and fields.get("member"):
        return {fields["member"]: _elf(arch, posixpath.basename(fields["dest"]))}
    if plan.kind == "archive":
        inner = (fields.get("path") or "").strip("/")
        return {posixpath.join(inner, n) if inner else n: _elf(arch, n) for n in ("tool-a", "tool-b")}
    return None


def _payload(plan: Any) -> bytes:
    fields, arch = plan.fields, _arch_of(plan.platform)
    if plan.kind == "binary":
        return _elf(arch, posixpath.basename(fields["dest"]))
    if plan.kind == "manifest":
        return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {plan.app}}}\nspec:\n"
                f"  template:\n    spec:\n      containers:\n"
                f"        - {{name: main, image: quay.io/catalogue-test/{plan.app}:1}}\n").encode()
    return f"{plan.app} {fields['dest']}\n".encode()


def _publish_checksums(root: Path, sums: dict[str, dict[str, bytes]]) -> None:
    """Each checksum list, with a line for every file published beside it."""
    for sums_url, files in sums.items():
        _mirrored(root, sums_url).write_text("".join(
            f"{hashlib.sha256(data).hexdigest()}  {posixpath.basename(url.split('?')[0])}\n"
            for url, data in sorted(files.items())))


def _publish_inputs(ws: Path, root: Path) -> None:
    """Every remote input of the workspace, fabricated under the mirror's directory."""
    from clusterbuild.workspace.inputs import remote_inputs
    from clusterbuild.workspace.load import load_workspace, select

    loaded = load_workspace(ws)
    selected, failures = select(loaded, ())
    assert failures == []
    archives: dict[str, dict[str, bytes]] = {}  # url -> members (inputs may share an archive)
    files: dict[str, bytes] = {}
    listed: dict[str, set[str]] = {}  # checksum list url -> the urls it covers
    for av in selected:
        for plan in remote_inputs(loaded, av):
            fields = plan.fields
            if plan.kind == "chart":
                assert not fields.get("oci"), f"{plan.name}: pick apps whose charts come by HTTP"
                _publish_chart(root, fields)
                continue
            members = _members(plan)
            if members is None:
                files[fields["url"]] = _payload(plan)
            else:
                archives.setdefault(fields["url"], {}).update(members)
            if fields.get("sha256_url"):
                listed.setdefault(fields["sha256_url"], set()).add(fields["url"])
    files |= {url: tgz(members) for url, members in archives.items()}
    for url, data in files.items():
        _mirrored(root, url).write_bytes(data)
    _publish_checksums(root, {sums: {url: files[url] for url in urls} for sums, urls in listed.items()})


def _catalogue_workspace(tmp: Path, www: str, registry: str, apps: tuple[str, ...] = APPS) -> Path:
    """A workspace of ``apps`` as the catalogue has them, every address mirrored locally."""
    ws = tmp / "catalogue"
    (ws / "applications").mkdir(parents=True)
    spec = yaml.safe_load((REPO / "apps.yaml").read_text())
    spec["apps"] = {name: spec["apps"][name] for name in apps}
    hosts = ["docker.io", "quay.io", "registry.k8s.io", "ghcr.io", "gcr.io", "registry-1.docker.io"]
    spec["registries"] = {"insecure": [registry], "mirrors": {host: [registry] for host in hosts}}
    spec["downloads"] = {"mirrors": {"https://": f"{www}/"}}
    (ws / "apps.yaml").write_text(yaml.safe_dump(spec))
    for name in apps:
        subprocess.run(["cp", "-r", str(REPO / "applications" / name), str(ws / "applications")], check=True)
    return ws


def _local_only() -> dict[str, str]:
    return {"HTTPS_PROXY": DEAD_PROXY, "HTTP_PROXY": DEAD_PROXY, "https_proxy": DEAD_PROXY,
            "http_proxy": DEAD_PROXY, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def _seed_images(references: list[str], registry: str, tmp: Path) -> None:
    """Each reference, as a small two-platform image, in the mirror registry (host dropped)."""
    example = tmp / "example"
    subprocess.run(["cp", "-r", str(EXAMPLE), str(example)], check=True)
    apply_json(example, "hello-tools")
    source = f"oci:{example / 'out'}:docker.io/labring/hello-tools:v1.0.0"
    for reference in references:
        path = reference.split("/", 1)[1]
        proc = subprocess.run(["skopeo", "copy", "--all", "--dest-tls-verify=false", source,
                               f"docker://{registry}/{path}"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(not (REPO / "apps.yaml").is_file(), reason="the catalogue has no apps.yaml")
def test_real_catalogue_specs_build_through_mirrors(tmp_path: Path, static_server: tuple[str, Path],
                                                     registry: str) -> None:
    www, root = static_server
    ws = _catalogue_workspace(tmp_path, www, registry)
    _publish_inputs(ws, root)
    env = _local_only()
    cli("lock", "-C", str(ws), "--no-images", env=env)
    shipped = json.loads(cli("images", "-C", str(ws), "--json", env=env).stdout)
    references = sorted({item["reference"] for item in shipped})
    assert {item["app"] for item in shipped} == set(APPS) - {"helm"}  # helm ships a binary, no image
    _seed_images(references, registry, tmp_path)
    result = json.loads(cli("apply", "-C", str(ws), "--json", env=env).stdout)
    built = {image["ref"] for image in result["images"]}
    for app in APPS:
        for version in yaml.safe_load((ws / "apps.yaml").read_text())["apps"][app]["versions"]:
            assert f"docker.io/labring/{app}:{version}" in built
            wanted = [i["reference"] for i in shipped if (i["app"], i["version"]) == (app, version)]
            for arch in ("amd64", "arm64"):
                files = _serve_and_read_registry_tree(ws, f"docker.io/labring/{app}:{version}-{arch}",
                                                      wanted, tmp_path)
                _check_files(app, arch, files)
    assert cli("apply", "-C", str(ws), "--json", "--frozen", env=env).returncode == 0


def _check_files(app: str, arch: str, files: dict[str, bytes]) -> None:
    """What the specs place, where sealos looks for it, for the right architecture."""
    if app == "kubernetes":
        for path in ("bin/kubeadm", "bin/kubelet", "bin/kubectl", "bin/crictl", "cri/bin/runc",
                     "opt/sealctl", "cri/image-cri-shim", "scripts/init.sh", "etc/config.toml.tmpl"):
            assert path in files, f"kubernetes {arch}: no {path}"
        assert files["bin/kubeadm"] == _elf(arch, "kubeadm")
        assert any(p.startswith("cri/bin/") and p != "cri/bin/runc" for p in files)  # containerd's bin/
    if app == "helm":
        assert files["opt/helm"] == _elf(arch, "helm")


def _serve_and_read_registry_tree(ws: Path, ref: str, references: list[str], tmp: Path) -> dict[str, bytes]:
    """The image's registry/ tree, served by docker-registry, holds every shipped image."""
    from conftest import image_files

    where = tmp / ref.replace("/", "_").replace(":", "_")
    files = image_files(ws / "out", ref, where)
    tree = where / "tree"
    for name, data in files.items():
        if name.startswith("registry/"):
            target = tree / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    with running_registry(tree / "registry", where) as address:
        for reference in references:
            path = reference.split("/", 1)[1]
            proc = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{address}/{path}"],
                                  capture_output=True, text=True, env={**os.environ})
            assert proc.returncode == 0, f"{ref}: {reference}: {proc.stderr}"
    return files
