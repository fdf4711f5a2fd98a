"""Sharded CI on Debian's docker-registry: `matrix` → 3 shards (3 clones, 3 local caches, one
remote cache) → `publish` gives the indexes one machine builds; a failed shard keeps the
published index; an unchanged workspace with a warm remote cache has an empty matrix."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import apply_json, cli, copy_workspace, images

pytestmark = pytest.mark.slow

APPS = {"hello-chart": "v0.1.0", "hello-tools": "v1.0.0"}


def digest_at(registry: str, ref: str) -> str:
    proc = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{registry}/{ref}"],
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr
    import hashlib

    return "sha256:" + hashlib.sha256(proc.stdout).hexdigest()


def clone(tmp_path: Path, name: str, registry: str) -> Path:
    ws = copy_workspace(tmp_path / name)
    text = (ws / "apps.yaml").read_text()
    (ws / "apps.yaml").write_text(text.replace(
        "apps:\n", f"registries:\n  insecure: [\"{registry}\"]\ncache:\n  remote: {registry}/ci/cache\n"
        "  push: true\napps:\n"))
    return ws


def change(ws: Path) -> Path:
    """A new commit of hello-tools: one more file in its image."""
    (ws / "applications/hello-tools/latest/CHANGED.md").write_text("a change\n")
    return ws


def matrix(ws: Path, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(cli("matrix", "-C", str(ws), *args).stdout)
    return out


def test_three_shards_and_publish_give_one_machines_indexes(tmp_path: Path, registry: str) -> None:
    prefix = f"{registry}/sharded"
    one = images(apply_json(copy_workspace(tmp_path / "one")))
    found = matrix(clone(tmp_path, "planner", registry), "--max-jobs", "3", "--push-to", prefix)
    assert found["count"] == 3 and len(found["entries"]) == 4, found
    for n, shard in enumerate(found["include"]):
        result = apply_json(clone(tmp_path, f"shard{n}", registry), "--shard", "--push-to", prefix,
                            *shard["targets"].split())
        assert "export" not in {r["kind"] for r in result["ran"]}
        assert all(p["ref"].rsplit("-", 1)[1] in ("amd64", "arm64") for p in result["pushed"])
    key, pub = tmp_path / "cosign.key", tmp_path / "cosign.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True,
                   capture_output=True)
    published = json.loads(cli("publish", "-C", str(clone(tmp_path, "index", registry)), "--push-to",
                               prefix, "--sign-key", str(key), "--json").stdout)
    assert not published["held_back"], published
    assert len([s for s in published["signed"] if s["new"]]) == len(APPS)
    for app, version in APPS.items():
        assert cli("verify", f"{prefix}/{app}:{version}", "--key", str(pub), "--insecure-registry",
                   registry).returncode == 0
    assert {p["ref"] for p in published["pushed"]} == {f"{prefix}/{a}:{v}" for a, v in APPS.items()}
    for app, version in APPS.items():
        assert digest_at(registry, f"sharded/{app}:{version}") == one[f"docker.io/labring/{app}:{version}"]
        # publish attaches the SBOMs to the index it pushed: listed under its fallback tag
        index_hex = one[f"docker.io/labring/{app}:{version}"].split(":")[1]
        listing = json.loads(subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false",
             f"docker://{registry}/sharded/{app}:sha256-{index_hex}"], capture_output=True,
            check=True).stdout)
        assert {m["artifactType"] for m in listing["manifests"]} == \
            {"application/spdx+json", "application/vnd.cyclonedx+json"}
        for arch in ("amd64", "arm64"):
            assert digest_at(registry, f"sharded/{app}:{version}-{arch}") == \
                one[f"docker.io/labring/{app}:{version}-{arch}"]
    # nothing changed: the next CI run has nothing to build, and publishing again pushes nothing
    again = matrix(clone(tmp_path, "later", registry), "--max-jobs", "3", "--push-to", prefix)
    assert again["count"] == 0 and again["include"] == [], again
    second = json.loads(cli("publish", "-C", str(clone(tmp_path, "later2", registry)), "--push-to",
                            prefix, "--json").stdout)
    assert second["pushed"] == [] and len(second["unchanged"]) == 2


def test_a_failed_shard_keeps_the_published_index(tmp_path: Path, registry: str) -> None:
    prefix = f"{registry}/held"
    first = clone(tmp_path, "first", registry)
    apply_json(first, "--push-to", prefix)  # the index published by an earlier build
    before = digest_at(registry, "held/hello-tools:v1.0.0")
    changed = change(clone(tmp_path, "changed", registry))
    found = matrix(changed, "--push-to", prefix)
    targets = [e for e in found["entries"] if e["app"] == "hello-tools"]
    assert {e["platform"] for e in targets} == {"linux/amd64", "linux/arm64"}, found
    apply_json(change(clone(tmp_path, "amd64", registry)), "--shard", "--push-to", prefix,
               "hello-tools:v1.0.0@linux/amd64")  # the arm64 shard failed: it pushed nothing
    proc = cli("publish", "-C", str(changed), "--push-to", prefix, "--json", check=False)
    assert proc.returncode == 4, proc.stderr
    report = json.loads(proc.stdout)
    held = {h["app"]: h["why"] for h in report["held_back"]}
    assert "linux/arm64" in held["hello-tools:v1.0.0"], held
    assert "held back: hello-tools:v1.0.0" in proc.stderr
    assert digest_at(registry, "held/hello-tools:v1.0.0") == before
