"""Remote inputs end to end: a chart repository, per-arch binaries and a manifest served on
127.0.0.1, locked, fetched once, unpacked into each platform's image."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import yaml

from conftest import apply_json, cli, copy_workspace, image_files, images, tgz

APP = "docker.io/labring/remote:v2.0.0"
ELF_MACHINE = {"x86_64": 62, "aarch64": 183}


def _elf(machine: str) -> bytes:
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + (2).to_bytes(2, "little")
    return header + ELF_MACHINE[machine].to_bytes(2, "little") + b"\0" * 44 + machine.encode()


def _chart(version: str, app_version: str) -> bytes:
    return tgz({
        "web/Chart.yaml": (f"apiVersion: v2\nname: web\nversion: {version}\n"
                           f"appVersion: {app_version}\n").encode(),
        "web/values.yaml": b"image:\n  repository: nginx\n  tag: '1.27'\n  digest: sha256:abc\n",
        "web/templates/deploy.yaml": b"kind: Deployment\n",
    })


def _publish(root: Path, url: str) -> None:
    (root / "charts").mkdir()
    entries = []
    for version, app_version in [("1.1.0", "v2.0.0"), ("1.2.0", "v2.0.0"), ("1.3.0", "2.1.0"),
                                 ("1.10.0-rc.1", "v2.0.0")]:
        data = _chart(version, app_version)
        (root / f"charts/web-{version}.tgz").write_bytes(data)
        entries.append({"name": "web", "version": version, "appVersion": app_version,
                        "urls": [f"web-{version}.tgz"], "digest": hashlib.sha256(data).hexdigest()})
    (root / "charts/index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": {"web": entries}}))
    (root / "bin").mkdir()
    for machine in ELF_MACHINE:
        binary = tgz({"tool/tool": _elf(machine)}, executables={"tool/tool"})
        (root / f"bin/tool-linux-{machine}.tar.gz").write_bytes(binary)
    (root / "install.yaml").write_text("kind: ConfigMap\nmetadata:\n  name: remote\n")


SPEC = """\
images: {{discover: "off"}}
inputs:
  - kind: chart
    repo: {url}/charts
    name: web
    app_version: "{{{{ version }}}}"
    values: {{set: {{image.digest: null}}}}
  - kind: binary
    url: {url}/{bin}/tool-linux-{{{{ arch_name }}}}.tar.gz
    arch_map: {{amd64: x86_64, arm64: aarch64}}
    member: tool/tool
    dest: opt/tool
  - kind: manifest
    url: {url}/install.yaml
"""


def _workspace(tmp: Path, url: str, bin_dir: str = "bin") -> Path:
    ws = copy_workspace(tmp / "ws")
    app = ws / "applications/remote/latest"
    app.mkdir(parents=True)
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"bash entrypoint.sh\"]\n")
    (app / "entrypoint.sh").write_text("helm upgrade -i web charts/web\n")
    (app / "clusterbuild.yaml").write_text(SPEC.format(url=url, bin=bin_dir))
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  remote:\n    versions: [\"v2.0.0\"]\n")
    return ws


def test_lock_then_frozen_apply_places_each_platforms_inputs(tmp_path: Path,
                                                             static_server: tuple[str, Path]) -> None:
    url, root = static_server
    _publish(root, url)
    ws = _workspace(tmp_path, url)
    plan = json.loads(cli("plan", "-C", str(ws), "remote", "--json").stdout)
    assert any("not locked" in reason for reason in plan["blocked"])
    frozen = cli("apply", "-C", str(ws), "remote", "--frozen", check=False)
    assert frozen.returncode == 3 and "not locked" in frozen.stderr and "clusterbuild lock" in frozen.stderr

    out = cli("lock", "-C", str(ws), "remote").stdout
    assert "4 inputs changed" in out  # chart, manifest, one binary per platform
    locked = yaml.safe_load((ws / "apps.lock").read_text())["inputs"]["remote"]["v2.0.0"]
    assert locked["inputs[0]"]["*"]["chart_version"] == "1.2.0"  # highest stable with appVersion v2.0.0
    assert set(locked["inputs[1]"]) == {"linux/amd64", "linux/arm64"}

    result = apply_json(ws, "remote", "--frozen")
    for arch, machine in (("amd64", "x86_64"), ("arm64", "aarch64")):
        files = image_files(ws / "out", f"{APP}-{arch}", tmp_path / arch)
        assert files["opt/tool"].endswith(machine.encode())
        values = yaml.safe_load(files["charts/web/values.yaml"])
        assert values["image"] == {"repository": "nginx", "tag": "1.27", "digest": None}
        assert b"version: 1.2.0" in files["charts/web/Chart.yaml"]
        assert files["manifests/install.yaml"].startswith(b"kind: ConfigMap")
    assert not [r for r in result["ran"] if r["kind"] == "fetch"]  # `lock` fetched them, once

    # a per-platform CI job (build.yml: --frozen --platform P) finds the inputs pinned for
    # every platform at once, and builds the same image
    arm = apply_json(ws, "remote", "--frozen", "--platform", "linux/arm64", cache=tmp_path / "arm-cache")
    assert images(arm)[f"{APP}-arm64"] == images(result)[f"{APP}-arm64"]

    other = tmp_path / "second"
    other.mkdir()
    clean = apply_json(ws, "remote", "--frozen", cache=other / "cache")
    assert images(clean) == images(result)


def test_edited_spec_fails_frozen_and_a_moved_url_reruns_nothing(tmp_path: Path,
                                                                 static_server: tuple[str, Path]) -> None:
    url, root = static_server
    _publish(root, url)
    ws = _workspace(tmp_path, url)
    cli("lock", "-C", str(ws), "remote")
    apply_json(ws, "remote", "--frozen")
    (root / "mirror").mkdir()
    for machine in ELF_MACHINE:  # the same bytes under another URL
        name = f"tool-linux-{machine}.tar.gz"
        (root / "mirror" / name).write_bytes((root / "bin" / name).read_bytes())
    spec = ws / "applications/remote/latest/clusterbuild.yaml"
    spec.write_text(SPEC.format(url=url, bin="mirror"))
    frozen = cli("apply", "-C", str(ws), "remote", "--frozen", check=False)
    assert frozen.returncode == 3 and "inputs[1]" in frozen.stderr
    assert "changed since locked" in frozen.stderr
    cli("lock", "-C", str(ws), "remote")
    assert apply_json(ws, "remote", "--frozen")["ran"] == []


def test_a_binary_for_the_wrong_architecture_is_refused(tmp_path: Path,
                                                        static_server: tuple[str, Path]) -> None:
    url, root = static_server
    _publish(root, url)
    x86 = (root / "bin/tool-linux-x86_64.tar.gz").read_bytes()
    (root / "bin/tool-linux-aarch64.tar.gz").write_bytes(x86)  # what the catalogue ships today
    ws = _workspace(tmp_path, url)
    proc = cli("apply", "-C", str(ws), "remote", check=False)
    assert proc.returncode == 4, proc.stderr
    assert "amd64" in proc.stderr and "arm64" in proc.stderr and "inputs[1]" in proc.stderr
    assert not (ws / "out/index.json").exists()


def _push_oci_chart(registry: str, store_dir: Path, chart: bytes, version: str) -> None:
    """Push a chart the way `helm push` lays it out (Helm's OCI media types)."""
    from clusterbuild.cache.store import BlobStore
    from clusterbuild.oci.model import Descriptor
    from clusterbuild.oci.reference import Reference
    from clusterbuild.places.registry import RegistryClient, RegistryConfig

    store = BlobStore(store_dir)
    config = json.dumps({"name": "web", "version": version, "apiVersion": "v2"}).encode()
    layers = [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
               "digest": str(store.put_bytes(chart)), "size": len(chart)}]
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json",
                                      "digest": str(store.put_bytes(config)), "size": len(config)},
                           "layers": layers}).encode()
    root = Descriptor("application/vnd.oci.image.manifest.v1+json", store.put_bytes(manifest), len(manifest))
    with RegistryClient(RegistryConfig(insecure=frozenset({registry}))) as client:
        client.push(Reference.parse(f"{registry}/charts/web:{version}"), root, store)


OCI_SPEC = """\
images: {{discover: "off"}}
inputs:
  - kind: chart
    oci: oci://{registry}/charts/web
    version: "{version}"
  - kind: chart
    url: {url}/src/project-{{{{ version }}}}.tar.gz
    path: "project-{{{{ version | strip_v }}}}/deploy/chart"
    name: bundled
"""


def test_oci_and_source_archive_charts_and_a_version_change_reruns_only_that_app(
        tmp_path: Path, static_server: tuple[str, Path], registry: str) -> None:
    url, root = static_server
    _publish(root, url)
    (root / "src").mkdir()
    (root / "src/project-v2.0.0.tar.gz").write_bytes(tgz({
        "project-2.0.0/README.md": b"source tree\n",
        "project-2.0.0/deploy/chart/Chart.yaml": b"apiVersion: v2\nname: bundled\nversion: 0.1.0\n",
        "project-2.0.0/deploy/chart/values.yaml": b"replicas: 1\n"}))
    for version in ("1.2.0", "1.3.0"):
        _push_oci_chart(registry, tmp_path / "push-store", _chart(version, "v2.0.0"), version)
    ws = _workspace(tmp_path, url)
    spec = ws / "applications/remote/latest/clusterbuild.yaml"
    spec.write_text(OCI_SPEC.format(registry=registry, version="1.2.0", url=url))
    insecure = f"registries:\n  insecure: [\"{registry}\"]\napps:\n"
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text().replace("apps:\n", insecure))
    apply_json(ws)
    files = image_files(ws / "out", f"{APP}-amd64", tmp_path / "one")
    assert b"version: 1.2.0" in files["charts/web/Chart.yaml"]
    assert files["charts/bundled/values.yaml"] == b"replicas: 1\n"
    assert "charts/bundled/README.md" not in files and "README.md" not in files

    spec.write_text(OCI_SPEC.format(registry=registry, version="1.3.0", url=url))
    result = apply_json(ws)
    assert {r["app"] for r in result["ran"]} == {"remote"}
    assert {r["kind"] for r in result["ran"]} >= {"fetch", "unpack", "layer", "image", "index", "export"}
    assert sum(r["kind"] == "fetch" for r in result["ran"]) == 1  # the bundled chart is unchanged
    files = image_files(ws / "out", f"{APP}-amd64", tmp_path / "two")
    assert b"version: 1.3.0" in files["charts/web/Chart.yaml"]


def _hostile_chart_app(ws: Path, url: str, extra: str = "") -> None:
    app = ws / "applications/bomb/latest"
    app.mkdir(parents=True)
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"bash entrypoint.sh\"]\n")
    (app / "clusterbuild.yaml").write_text(
        f"images: {{discover: 'off'}}\ninputs:\n  - kind: chart\n    url: {url}/bomb.tgz\n"
        f"    name: web\n{extra}")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  bomb:\n    versions: [v1]\n")


def _blobs(ws: Path) -> set[str]:
    return {p.name for p in (ws / "cache/blobs/sha256").iterdir()}


def test_a_chart_bomb_is_refused_while_streaming_and_leaves_the_cache_as_it_was(
        tmp_path: Path, static_server: tuple[str, Path]) -> None:
    url, root = static_server
    (root / "bomb.tgz").write_bytes(tgz({"web/Chart.yaml": b"apiVersion: v2\nname: web\nversion: 1.0.0\n",
                                         "web/values.yaml": b"a: 1\n",
                                         "web/templates/zeros.yaml": bytes(8 << 20)}))
    ws = copy_workspace(tmp_path / "ws")
    apply_json(ws)
    before = _blobs(ws)
    _hostile_chart_app(ws, url, "    max_size: 1MiB\n")
    proc = cli("apply", "-C", str(ws), "bomb", check=False)
    assert proc.returncode == 3, proc.stderr
    assert "expands to more than 1 MiB" in proc.stderr and "inputs[0].max_size" in proc.stderr
    assert _blobs(ws) == before  # neither the archive nor any of its members was kept
    assert list((ws / "cache/tmp").iterdir()) == []


def test_a_hostile_chart_is_bad_input_and_not_kept(tmp_path: Path, static_server: tuple[str, Path]) -> None:
    url, root = static_server
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in [("web/Chart.yaml", b"apiVersion: v2\nname: web\nversion: 1.0.0\n"),
                           ("../../etc/cron.d/evil", b"* * * * * root id\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (root / "bomb.tgz").write_bytes(buf.getvalue())
    ws = copy_workspace(tmp_path / "ws")
    apply_json(ws)
    before = _blobs(ws)
    _hostile_chart_app(ws, url)
    proc = cli("apply", "-C", str(ws), "bomb", check=False)
    assert proc.returncode == 3 and "has a '..' component" in proc.stderr
    assert _blobs(ws) == before


def _checksummed_app(ws: Path, url: str) -> None:
    app = ws / "applications/summed/latest"
    app.mkdir(parents=True)
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"bash entrypoint.sh\"]\n")
    (app / "clusterbuild.yaml").write_text(
        "images: {discover: 'off'}\ninputs:\n  - kind: binary\n"
        f"    url: {url}/rel/tool-linux-{{{{ arch_name }}}}.tar.gz\n"
        f"    sha256_url: {url}/rel/checksums.txt\n"
        "    arch_map: {amd64: x86_64, arm64: aarch64}\n    member: tool/tool\n    dest: opt/tool\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  summed:\n    versions: [v1]\n")


def test_a_first_download_is_checked_against_the_published_checksums(
        tmp_path: Path, static_server: tuple[str, Path]) -> None:
    url, root = static_server
    (root / "rel").mkdir()
    sums = []
    for machine in ELF_MACHINE:
        data = tgz({"tool/tool": _elf(machine)}, executables={"tool/tool"})
        (root / f"rel/tool-linux-{machine}.tar.gz").write_bytes(data)
        sums.append(f"{hashlib.sha256(data).hexdigest()}  tool-linux-{machine}.tar.gz")
    (root / "rel/checksums.txt").write_text("\n".join(sums) + "\n")
    ws = copy_workspace(tmp_path / "ws")
    _checksummed_app(ws, url)
    cli("lock", "-C", str(ws), "summed")
    locked = (ws / "apps.lock").read_text()
    assert sums[0].split()[0] in locked and sums[1].split()[0] in locked

    tampered = copy_workspace(tmp_path / "tampered")
    _checksummed_app(tampered, url)
    (root / "rel/tool-linux-aarch64.tar.gz").write_bytes(b"flipped bytes")  # after the sums were published
    proc = cli("lock", "-C", str(tampered), "summed", check=False)
    assert proc.returncode == 4 and "checksum mismatch" in proc.stderr and "[linux/arm64]" in proc.stderr
    lock = tampered / "apps.lock"
    assert not lock.exists() or "linux/arm64" not in lock.read_text()  # nothing wrong was pinned


def test_an_archive_directory_lands_under_dest_per_platform(tmp_path: Path,
                                                            static_server: tuple[str, Path]) -> None:
    url, root = static_server
    (root / "cri").mkdir()
    for machine in ELF_MACHINE:
        (root / f"cri/cri-{machine}.tar.gz").write_bytes(tgz({
            f"cri-{machine}/bin/containerd": _elf(machine), f"cri-{machine}/bin/ctr": _elf(machine),
            f"cri-{machine}/bin/ctr.md": b"docs", f"cri-{machine}/README.md": b"readme"},
            executables={f"cri-{machine}/bin/containerd", f"cri-{machine}/bin/ctr"}))
    ws = copy_workspace(tmp_path / "ws")
    app = ws / "applications/cri/latest"
    app.mkdir(parents=True)
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\n")
    (app / "clusterbuild.yaml").write_text(
        "images: {discover: 'off'}\ninputs:\n  - kind: archive\n"
        f"    url: {url}/cri/cri-{{{{ arch_name }}}}.tar.gz\n"
        "    arch_map: {amd64: x86_64, arm64: aarch64}\n"
        "    path: cri-{{ arch_name }}/bin\n    dest: cri/bin\n    exclude: ['*.md']\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  cri:\n    versions: [v1]\n")
    built = apply_json(ws, "cri")
    for suffix, machine in (("amd64", "x86_64"), ("arm64", "aarch64")):
        files = image_files(ws / "out", f"docker.io/labring/cri:v1-{suffix}", tmp_path / suffix)
        assert sorted(files) == ["Kubefile", "cri/bin/containerd", "cri/bin/ctr"]
        assert files["cri/bin/ctr"] == _elf(machine)
    assert len(images(built)) == 3
