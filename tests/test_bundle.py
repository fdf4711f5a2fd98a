"""Air-gap bundles end to end: a delta carries exactly the new blobs, unbundle into a fresh
docker-registry serves the new version completely (read back by skopeo), and a truncated
or altered bundle is refused, naming what is wrong, with nothing written."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import tarfile
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from supply_workspace import shop_workspace

from conftest import _QuietHandler, apply_json, cli, images, running_registry

pytestmark = pytest.mark.slow
SHOP = "docker.io/labring/shop"


def _members(path: Path) -> set[str]:
    with tarfile.open(path) as tar:  # Python's own reader, independent of ours
        return {m.name.removeprefix("blobs/sha256/") for m in tar if m.name.startswith("blobs/")}


def _layout_blobs(layout: Path, ref: str) -> tuple[set[str], set[str]]:
    """(every blob ``ref`` reaches in the layout but its uncompressed registry/ layers, those layers)."""
    index = json.loads((layout / "index.json").read_text())
    [root] = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == ref]
    blobs, tars, stack = set(), set(), [root]
    while stack:
        desc = stack.pop()
        hex_ = desc["digest"].split(":")[1]
        if desc["mediaType"].endswith(".tar"):
            tars.add(hex_)
            continue
        blobs.add(hex_)
        if desc["mediaType"].endswith(("manifest.v1+json", "index.v1+json")):
            doc = json.loads((layout / "blobs/sha256" / hex_).read_bytes())
            stack += doc.get("manifests", []) + doc.get("layers", [])
            stack += [doc["config"]] if "config" in doc else []
    return blobs, tars


def _image_blobs(registry: str, name: str, tag: str, min_size: int = 0) -> set[str]:
    """Every blob of an image as the source registry serves it (index, manifests, configs,
    layers), or only the platforms' blobs of at least ``min_size`` bytes (registry/ holds no index)."""
    accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"
    index = httpx.get(f"http://{registry}/v2/{name}/manifests/{tag}", headers={"Accept": accept})
    found = {} if min_size else {index.headers["docker-content-digest"]: len(index.content)}
    for entry in index.json()["manifests"]:
        manifest = httpx.get(f"http://{registry}/v2/{name}/manifests/{entry['digest']}",
                             headers={"Accept": accept}).json()
        found |= {d["digest"]: d["size"] for d in [entry, manifest["config"], *manifest["layers"]]}
    return {d.split(":")[1] for d, size in found.items() if size >= min_size}


def _skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, registry: str) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("bundle")
    www = tmp / "www"
    www.mkdir()

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(www)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ws = shop_workspace(tmp, registry, f"http://127.0.0.1:{server.server_address[1]}", www)
    digests = images(apply_json(ws, "shop"))
    server.shutdown()
    server.server_close()
    return ws, digests


def test_delta_bundle_carries_only_the_new_blobs_and_unbundles_into_a_fresh_registry(
        built: tuple[Path, dict[str, str]], registry: str, tmp_path: Path) -> None:
    ws, digests = built
    v1, full, delta = tmp_path / "v1.tar", tmp_path / "v2-full.tar", tmp_path / "v2-delta.tar"
    cli("bundle", "-C", str(ws), "shop:v1", "-o", str(v1))
    cli("bundle", "-C", str(ws), "shop:v2", "-o", str(full))
    out = cli("bundle", "-C", str(ws), "shop:v2", "-o", str(delta), "--have", str(v1)).stdout
    assert "left out" in out
    carried = _members(delta)
    assert carried == _members(full) - _members(v1)
    # exactly: the new image's layers (its small manifests and configs travel in the skeleton
    # of each registry/ layer), the cluster image's own new blobs, and the two skeletons
    beta2 = _image_blobs(registry, "src/beta", "2", min_size=512)
    new_top = set.union(*(_layout_blobs(ws / "out", f"{SHOP}:v2-{a}")[0] for a in ("amd64", "arm64")))
    old_top = set.union(*(_layout_blobs(ws / "out", f"{SHOP}:v1-{a}")[0] for a in ("amd64", "arm64")))
    new_top |= _layout_blobs(ws / "out", f"{SHOP}:v2")[0]
    with tarfile.open(delta) as tar:
        extracted = tar.extractfile("clusterbuild-bundle.json")
        assert extracted is not None
        contents = json.load(extracted)
    skeletons = {layer["skeleton"].split(":")[1] for layer in contents["layers"].values()}
    assert len(skeletons) == 2  # one registry/ layer per platform
    assert carried == beta2 | (new_top - old_top) | skeletons
    assert not _image_blobs(registry, "src/alpha", "1") & carried

    with running_registry(tmp_path / "site", tmp_path) as site:
        cli("unbundle", str(v1), "--to", f"{site}/labring", "--cache-dir", str(tmp_path / "c"),
            "--insecure-registry", site)
        have = tmp_path / "have.txt"
        cli("bundle", "--list-have", site, "-o", str(have), "--insecure-registry", site)
        by_list = tmp_path / "by-list.tar"
        cli("bundle", "-C", str(ws), "shop:v2", "-o", str(by_list), "--have", str(have))
        assert _members(by_list) == carried
        pushed = cli("unbundle", str(delta), "--to", f"{site}/labring", "--cache-dir",
                     str(tmp_path / "c2"), "--insecure-registry", site).stdout.split()
        assert f"{site}/labring/shop:v2" in pushed
        raw = _skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{site}/labring/shop:v2")
        assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == digests[f"{SHOP}:v2"]
        copied = tmp_path / "copied"
        _skopeo("copy", "--all", "--src-tls-verify=false", f"docker://{site}/labring/shop:v2",
                f"oci:{copied}:x")  # every blob of every platform, checked by skopeo


def test_truncated_or_altered_bundles_are_refused_and_write_nothing(
        built: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    ws, _ = built
    good = tmp_path / "v1.tar"
    cli("bundle", "-C", str(ws), "shop:v1", "-o", str(good))
    data = good.read_bytes()
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(data[: len(data) // 2])
    target = tmp_path / "site"
    proc = cli("unbundle", str(truncated), "--to", str(target), "--cache-dir", str(tmp_path / "c"),
               check=False)
    assert proc.returncode == 3 and ("truncated" in proc.stderr or "missing blob" in proc.stderr)
    assert not (target / "index.json").exists()

    with tarfile.open(good) as tar:
        member = max((m for m in tar if m.name.startswith("blobs/")), key=lambda m: m.size)
    altered = bytearray(data)
    altered[member.offset_data + member.size // 2] ^= 0xFF
    tampered = tmp_path / "tampered.tar"
    tampered.write_bytes(bytes(altered))
    proc = cli("unbundle", str(tampered), "--to", str(target), "--cache-dir", str(tmp_path / "c"),
               check=False)
    hex_ = member.name.rsplit("/", 1)[1]
    assert proc.returncode == 3 and f"blob sha256:{hex_} is altered" in proc.stderr, proc.stderr
    assert not (target / "index.json").exists()


def test_zstd_split_bundle_unbundles_into_a_layout(built: tuple[Path, dict[str, str]],
                                                   tmp_path: Path) -> None:
    ws, digests = built
    out = tmp_path / "shop.tar.zst"
    cli("bundle", "-C", str(ws), "shop", "-o", str(out), "--zstd", "--split-size", "4KiB")
    parts = sorted(tmp_path.glob("shop.tar.zst.*"))
    assert len(parts) > 1 and all(p.stat().st_size <= 4096 for p in parts)
    target = tmp_path / "layout"
    cli("unbundle", *map(str, parts), "--to", str(target), "--cache-dir", str(tmp_path / "c"))
    index = json.loads((target / "index.json").read_text())
    refs = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"] for m in index["manifests"]}
    assert refs[f"{SHOP}:v1"] == digests[f"{SHOP}:v1"] and refs[f"{SHOP}:v2"] == digests[f"{SHOP}:v2"]
    _skopeo("copy", "--all", f"oci:{target}:{SHOP}:v2", f"oci:{tmp_path / 'again'}:x")
    proc = cli("unbundle", *map(str, parts[:-1]), "--to", str(tmp_path / "other"),
               "--cache-dir", str(tmp_path / "c3"), check=False)
    assert proc.returncode == 3


def test_diff_names_exactly_the_bumped_image_and_the_delta_size(
        built: tuple[Path, dict[str, str]], registry: str, tmp_path: Path) -> None:
    ws, _ = built
    result = json.loads(cli("diff", "-C", str(ws), "shop:v1", "shop:v2", "--json").stdout)
    assert [(c["kind"], c["name"]) for c in result["changes"]] == [("image", f"{registry}/src/beta")]
    change = result["changes"][0]
    assert change["old"].startswith("1@") and change["new"].startswith("2@")
    v1, delta = tmp_path / "v1.tar", tmp_path / "delta.tar"
    cli("bundle", "-C", str(ws), "shop:v1", "-o", str(v1))
    cli("bundle", "-C", str(ws), "shop:v2", "-o", str(delta), "--have", str(v1))
    with tarfile.open(delta) as tar:
        carried = [m.size for m in tar if m.name.startswith("blobs/")]
    assert result["transfer"] == {"bytes": sum(carried), "blobs": len(carried)}
    assert result["size"] > result["transfer"]["bytes"]
    text = cli("diff", "-C", str(ws), "shop:v1", "shop:v2").stdout
    assert f"~ image {registry}/src/beta: 1@" in text and "a site with shop:v1 transfers" in text


def test_the_bots_success_comment_carries_the_diff_against_the_previous_version(
        built: tuple[Path, dict[str, str]], registry: str) -> None:
    from github_fake import FakeGitHub, comment_event

    from clusterbuild.bot.config import BotConfig
    from clusterbuild.bot.decision import Outcome
    from clusterbuild.bot.handle import handle_event

    ws, _ = built
    config = BotConfig(workspace=ws, cache_dir=ws / "cache", insecure_registries=(registry,), jobs=2)
    with FakeGitHub() as github:
        issue = github.add_issue(6, "【Auto-build】shop", ["accepted"])
        decision, _ = handle_event(config, comment_event(issue, "/imagebuild_apps shop v2"), github.environ())
        assert decision.outcome is Outcome.SUCCEEDED, decision.reason
        [posted] = github.comments
    assert "Changes since `shop:v1`:" in posted.body
    assert f"~ image {registry}/src/beta: 1@" in posted.body and "transfers" in posted.body
