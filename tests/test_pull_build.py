"""Images found in an app are pulled from a real registry into its registry/ tree."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from conftest import apply_json, cli, copy_workspace, images, running_registry

TOOLS = "docker.io/labring/hello-tools:v1.0.0"


def skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert proc.returncode == 0, f"skopeo {' '.join(args)}: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def seeded(registry: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two multi-arch images in the test registry (our own example images, pushed by skopeo)."""
    ws = copy_workspace(tmp_path_factory.mktemp("seed") / "ws")
    built = images(apply_json(ws))
    refs = {"hello": f"{registry}/seed/hello:1", "chart": f"{registry}/seed/chart:2"}
    sources = {"hello": TOOLS, "chart": "docker.io/labring/hello-chart:v0.1.0"}
    for name, ref in refs.items():
        skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{ws / 'out'}:{sources[name]}",
               f"docker://{ref}")
    return {"registry": registry, **refs,
            "hello-index": built[TOOLS], "hello-amd64": built[f"{TOOLS}-amd64"]}


def _add_app(ws: Path, seeded: dict[str, str], all_platforms: bool = False) -> None:
    app = ws / "applications/with-images/latest"
    (app / "images/shim").mkdir(parents=True)
    (app / "images/shim/list").write_text(f"# extra images\n{seeded['hello']}\n")
    (app / "manifests").mkdir()
    (app / "manifests/deploy.yaml").write_text(
        "kind: Pod\nspec:\n  containers:\n    - name: x\n"
        f"      image: \"{seeded['chart']}\"  # the app\n")
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"kubectl apply -f manifests\"]\n")
    if all_platforms:
        (app / "clusterbuild.yaml").write_text("images:\n  all_platforms: true\n")
    text = (ws / "apps.yaml").read_text()
    text = text.replace("apps:\n", f"registries:\n  insecure: [\"{seeded['registry']}\"]\napps:\n")
    (ws / "apps.yaml").write_text(text + "  with-images:\n    versions: [\"v1\"]\n")


def _registry_root(layout: Path, ref: str, tmp: Path) -> Path:
    """Unpack the image's layers (as copied out by skopeo) into a directory."""
    copied = tmp / "copied"
    copied.mkdir(parents=True)
    skopeo("copy", f"oci:{layout}:{ref}", f"dir:{copied}")
    root = tmp / "root"
    for layer in json.loads((copied / "manifest.json").read_text())["layers"]:
        with tarfile.open(copied / layer["digest"].split(":")[1]) as tar:
            tar.extractall(root, filter="tar")
    return root


def test_found_images_are_pulled_into_the_registry_tree(tmp_path: Path, seeded: dict[str, str]) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _add_app(ws, seeded)
    listed = cli("images", "-C", str(ws), "with-images", "--why").stdout
    assert seeded["hello"] in listed and "images/shim/list:2" in listed
    assert seeded["chart"] in listed and "manifests/deploy.yaml:5" in listed

    result = apply_json(ws, "with-images")
    pulls = sorted((r["platforms"][0], r["slot"]) for r in result["ran"] if r["kind"] == "pull")
    assert len(pulls) == 4  # two images x two platforms
    ref = "docker.io/labring/with-images:v1-amd64"
    root = _registry_root(ws / "out", ref, tmp_path / "amd64")
    with running_registry(root / "registry", tmp_path) as address:
        served = f"docker://{address}/seed/hello:1"
        raw = skopeo("inspect", "--raw", "--tls-verify=false", served).encode()
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == seeded["hello-amd64"]
        skopeo("copy", "--src-tls-verify=false", served, f"dir:{tmp_path / 'pulled'}")
        skopeo("inspect", "--tls-verify=false", f"docker://{address}/seed/chart:2")
    assert apply_json(ws, "with-images")["ran"] == []


def test_all_platforms_stores_the_whole_index(tmp_path: Path, seeded: dict[str, str]) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _add_app(ws, seeded, all_platforms=True)
    result = apply_json(ws, "with-images")
    assert sum(r["kind"] == "pull" for r in result["ran"]) == 2  # one per image, all platforms
    root = _registry_root(ws / "out", "docker.io/labring/with-images:v1-arm64", tmp_path / "arm64")
    with running_registry(root / "registry", tmp_path) as address:
        served = f"docker://{address}/seed/hello:1"
        raw = skopeo("inspect", "--raw", "--tls-verify=false", served).encode()
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == seeded["hello-index"]
        skopeo("copy", "--all", "--src-tls-verify=false", served, f"oci:{tmp_path / 'all'}:x")


def test_apply_push_sends_every_platform_and_the_index(workspace: Path, registry: str) -> None:
    prefix = f"{registry}/pushed"
    result = apply_json(workspace, "hello-tools", "--push-to", prefix,
                        "--insecure-registry", registry)
    assert sum(r["kind"] == "push" for r in result["ran"]) == 1
    ours = images(result)
    for tag in ("v1.0.0", "v1.0.0-amd64", "v1.0.0-arm64"):
        raw = skopeo("inspect", "--raw", "--tls-verify=false",
                     f"docker://{prefix}/hello-tools:{tag}").encode()
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == ours[f"docker.io/labring/hello-tools:{tag}"]
    again = apply_json(workspace, "hello-tools", "--push-to", prefix, "--insecure-registry", registry)
    assert again["ran"] == []


def test_sync_copies_every_platform(tmp_path: Path, seeded: dict[str, str]) -> None:
    registry = seeded["registry"]
    with running_registry(tmp_path / "second", tmp_path) as second:
        out = cli("sync", seeded["hello"], f"{second}/mirror/hello:1", "-C", str(tmp_path),
                  "--insecure-registry", registry, "--insecure-registry", second).stdout
        assert out.split()[-1] == seeded["hello-index"]
        raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{second}/mirror/hello:1")
        assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == seeded["hello-index"]
    bad = cli("sync", "not a ref", "x/y:1", "-C", str(tmp_path), check=False)
    assert bad.returncode == 3 and "source" in bad.stderr


def test_login_stores_credentials_privately(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = subprocess.run(
        [sys.executable, "-m", "clusterbuild", "login", "registry.example.com", "-u", "bot",
         "--password-stdin", "--no-verify"], input="s3cret\n", capture_output=True, text=True,
        env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
    assert proc.returncode == 0, proc.stderr
    assert "s3cret" not in proc.stdout + proc.stderr
    stored = next(home.rglob("auth.json"))
    assert stored.stat().st_mode & 0o777 == 0o600
    assert "registry.example.com" in json.loads(stored.read_text())["auths"]


def _add_chart_app(ws: Path, seeded: dict[str, str], discover: str) -> None:
    app = ws / "applications/charted/latest"
    chart = app / "charts/web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 1.0.0\n")
    host, _, path = seeded["chart"].partition("/")
    repo, _, tag = path.partition(":")
    (chart / "values.yaml").write_text(
        f"image:\n  registry: {host}\n  repository: {repo}\n  tag: \"{tag}\"\n")
    (chart / "templates/deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: web\n          image: "
        "\"{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n")
    (app / "manifests").mkdir()
    (app / "manifests/sidecar.yaml").write_text(
        f"kind: Pod\nspec:\n  containers:\n    - name: s\n      image: {seeded['hello']} # pinned\n")
    (app / "Kubefile").write_text("FROM scratch\nCOPY charts charts\nCOPY manifests manifests\n"
                                  "COPY registry registry\nCMD [\"helm upgrade -i web charts/web\"]\n")
    (app / "clusterbuild.yaml").write_text(f"images:\n  discover: {discover}\n")
    text = (ws / "apps.yaml").read_text()
    text = text.replace("apps:\n", f"registries:\n  insecure: [\"{seeded['registry']}\"]\napps:\n")
    (ws / "apps.yaml").write_text(text + "  charted:\n    versions: [\"v1\"]\n")


@pytest.mark.parametrize("discover", ["full", "sealos"])
def test_chart_images_are_rendered_and_pulled(tmp_path: Path, seeded: dict[str, str],
                                              discover: str) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _add_chart_app(ws, seeded, discover)
    found = {i["reference"]: i["sources"]
             for i in json.loads(cli("images", "-C", str(ws), "charted", "--json").stdout)}
    assert any("charts/web" in s for s in found[seeded["chart"]])
    # a trailing comment hides the sidecar from sealos' line scan; the YAML walk finds it
    assert (seeded["hello"] in found) is (discover == "full")
    result = apply_json(ws, "charted", "--platform", "linux/amd64")
    manifest = json.loads(skopeo("inspect", "--raw",
                                 f"oci:{ws / 'out'}:docker.io/labring/charted:v1-amd64"))
    assert manifest["layers"][-1]["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    pulls = [r for r in result["ran"] if r["kind"] == "pull"]
    assert len(pulls) == len(found)


def test_images_are_pinned_in_the_lock_and_a_moved_tag_changes_nothing_until_relocked(
        tmp_path: Path, seeded: dict[str, str]) -> None:
    registry = seeded["registry"]
    moving = f"{registry}/seed/moving:1"
    skopeo("copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
           f"docker://{seeded['hello']}", f"docker://{moving}")
    ws = copy_workspace(tmp_path / "ws")
    _add_app(ws, {**seeded, "hello": moving})
    frozen = cli("apply", "-C", str(ws), "with-images", "--frozen", check=False)
    assert frozen.returncode == 3 and "with-images:v1 is not pinned (and 1 more)" in frozen.stderr

    first = apply_json(ws, "with-images")
    pins = yaml.safe_load((ws / "apps.lock").read_text())["images"]
    assert pins[moving] == seeded["hello-index"]

    skopeo("copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
           f"docker://{seeded['chart']}", f"docker://{moving}")  # the tag moves upstream
    assert apply_json(ws, "with-images", "--frozen")["ran"] == []  # pinned: same image
    again = apply_json(ws, "with-images", "--frozen", cache=tmp_path / "clean-cache")
    assert images(again) == images(first)  # a clean cache pulls the pinned digest

    out = cli("lock", "-C", str(ws), "with-images", "--update", "--insecure-registry", registry).stdout
    assert f"image {moving}" in out
    relocked = apply_json(ws, "with-images", "--frozen")
    assert {r["kind"] for r in relocked["ran"]} >= {"pull", "registry", "image", "index", "export"}
    assert images(relocked) != images(first)


def test_a_blob_corrupted_on_the_wire_once_still_gives_a_good_build(tmp_path: Path,
                                                                    seeded: dict[str, str]) -> None:
    from registry_servers import Fault, FaultProxy

    proxy = FaultProxy(seeded["registry"])
    try:
        via_proxy = {**seeded, "registry": proxy.address,
                     "hello": seeded["hello"].replace(seeded["registry"], proxy.address),
                     "chart": seeded["chart"].replace(seeded["registry"], proxy.address)}
        ws = copy_workspace(tmp_path / "ws")
        _add_app(ws, via_proxy)
        proxy.inject(Fault(r"/blobs/sha256:", "corrupt"))  # the first blob fetched, once
        result = apply_json(ws, "with-images", "--jobs", "1")
        corrupted = [e for e in proxy.log if e.fault == "corrupt"]
        assert len(corrupted) == 1
        again = [e for e in proxy.log if e.path == corrupted[0].path and e.method == "GET"]
        assert len(again) == 2  # fetched once more, whole
        ref = "docker.io/labring/with-images:v1-amd64"
        root = _registry_root(ws / "out", ref, tmp_path / "amd64")
        with running_registry(root / "registry", tmp_path) as address:
            skopeo("copy", "--src-tls-verify=false", f"docker://{address}/seed/hello:1",
                   f"dir:{tmp_path / 'pulled'}")  # skopeo verifies every blob's digest
        assert images(result)
    finally:
        proxy.stop()


def test_registry_follows_the_kubefile(tmp_path: Path, seeded: dict[str, str]) -> None:
    """As sealos build: the images are shipped where a COPY places registry/, else not (a warning)."""
    ws = copy_workspace(tmp_path / "ws")
    _add_app(ws, seeded)
    kubefile = ws / "applications/with-images/latest/Kubefile"
    kubefile.write_text("FROM scratch\nCOPY manifests manifests\nCMD [\"kubectl apply -f manifests\"]\n")
    proc = cli("apply", "-C", str(ws), "with-images", "--json")
    assert "no COPY of the Kubefile places registry/, so they are not shipped" in proc.stderr
    result = json.loads(proc.stdout)
    assert [r for r in result["ran"] if r["kind"] in ("pull", "registry")] == []
    layout = f"oci:{ws / 'out'}:docker.io/labring/with-images:v1-amd64"
    manifest = json.loads(skopeo("inspect", "--raw", layout))
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar+gzip"]
    kubefile.write_text("FROM scratch\nCOPY registry registry\nCOPY manifests manifests\n")
    again = apply_json(ws, "with-images")
    assert sum(r["kind"] == "pull" for r in again["ran"]) == 4
