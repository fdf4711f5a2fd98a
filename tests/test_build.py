"""End to end: the example workspace through the real CLI, checked by skopeo and a registry."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from clusterbuild.kubefile.evaluate import DEFAULT_PATH

from conftest import apply_json, cli, copy_workspace, images, ran_steps

TOOLS = "docker.io/labring/hello-tools:v1.0.0"
CHART = "docker.io/labring/hello-chart:v0.1.0"
BOTH = ("linux/amd64", "linux/arm64")


def skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    assert proc.returncode == 0, f"skopeo {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def layer_files(layout: Path, ref: str, tmp: Path) -> dict[str, tuple[int, bytes]]:
    """Copy the image out with skopeo and read its layers with tarfile: path -> (mode, data)."""
    dest = tmp / "copied"
    dest.mkdir(parents=True)
    skopeo("copy", f"oci:{layout}:{ref}", f"dir:{dest}")
    manifest = json.loads((dest / "manifest.json").read_text())
    files: dict[str, tuple[int, bytes]] = {}
    for layer in manifest["layers"]:
        with tarfile.open(dest / layer["digest"].split(":")[1]) as tar:
            for member in tar:
                assert (member.uid, member.gid, member.mtime) == (0, 0, 0), member.name
                data = tar.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
                files[member.name.rstrip("/")] = (member.mode, data)
    return files


def test_apply_writes_multi_arch_images_that_skopeo_reads(workspace: Path, tmp_path: Path) -> None:
    result = apply_json(workspace)
    layout = workspace / "out"
    index = json.loads(skopeo("inspect", "--raw", f"oci:{layout}:{TOOLS}"))
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    for arch in ("amd64", "arm64"):
        config = json.loads(skopeo("inspect", "--config", f"oci:{layout}:{TOOLS}-{arch}"))
        assert config["architecture"] == arch
        assert config["config"]["Cmd"] == ["bash entrypoint.sh"]
        assert config["config"]["Env"] == [f"PATH={DEFAULT_PATH}", "NAMESPACE=hello-tools"]
        assert config["config"]["Labels"]["org.opencontainers.image.version"] == "v1.0.0"
        files = layer_files(layout, f"{TOOLS}-{arch}", tmp_path / arch)
        mode, data = files["opt/hello"]
        assert mode == 0o755 and f"hello from {arch}".encode() in data
        assert "files/amd64/hello" not in files and "README.md" not in files  # .dockerignore
        assert "clusterbuild.yaml" not in files
        assert files["manifests/job.yaml"][0] == 0o644
    raw = (layout / "blobs/sha256" / images(result)[TOOLS].split(":")[1]).read_bytes()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == images(result)[TOOLS]


def test_shell_form_env_defaults_and_labels_follow_buildkit(workspace: Path) -> None:
    apply_json(workspace, "hello-chart")
    config = json.loads(skopeo("inspect", "--config", f"oci:{workspace / 'out'}:{CHART}-amd64"))
    env = dict(e.split("=", 1) for e in config["config"]["Env"])
    assert env == {"PATH": DEFAULT_PATH, "NAME": "hello-chart", "NAMESPACE": "hello",
                   "HELM_OPTS": "--set replicaCount=1"}
    assert config["config"]["Cmd"] == [
        "helm upgrade -i $(NAME) charts/hello-chart -n $(NAMESPACE) --create-namespace "
        "$(HELM_OPTS)"]
    assert config["config"]["Labels"]["sealos.io.type"] == "application"


def test_two_clones_with_separate_caches_give_identical_digests(tmp_path: Path) -> None:
    first = copy_workspace(tmp_path / "one")
    second = copy_workspace(tmp_path / "elsewhere" / "two")
    for path in second.rglob("*"):  # different mtimes and inodes, same content
        os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    a = apply_json(first, cache=tmp_path / "cache-a")
    b = apply_json(second, cache=tmp_path / "cache-b")
    assert images(a) == images(b)
    assert len(images(a)) == 6


def test_second_apply_runs_nothing_and_an_edit_reruns_only_that_app(workspace: Path) -> None:
    first = apply_json(workspace)
    assert len(first["ran"]) == 12 and first["cached"] == 2  # the 2 scans are done while planning
    again = apply_json(workspace)
    assert again["ran"] == [] and images(again) == images(first)

    values = workspace / "applications/hello-chart/latest/charts/hello-chart/values.yaml"
    values.write_text(values.read_text().replace("replicaCount: 2", "replicaCount: 3"))
    edited = apply_json(workspace)
    assert ran_steps(edited) == {
        ("layer", "hello-chart", BOTH),  # one layer step serves both platforms
        ("image", "hello-chart", ("linux/amd64",)),
        ("image", "hello-chart", ("linux/arm64",)),
        ("index", "hello-chart", BOTH),
        ("export", "hello-chart", BOTH),
    }
    changed = {ref for ref in images(edited) if images(edited)[ref] != images(first)[ref]}
    assert changed == {CHART, f"{CHART}-amd64", f"{CHART}-arm64"}


def test_adding_a_platform_adds_only_that_platforms_steps(workspace: Path) -> None:
    apps_yaml = workspace / "apps.yaml"
    text = apps_yaml.read_text()
    apps_yaml.write_text(text.replace("[linux/amd64, linux/arm64]", "[linux/amd64]"))
    apply_json(workspace)
    apps_yaml.write_text(text)
    result = apply_json(workspace)
    assert ran_steps(result) == {
        ("layer", "hello-tools", ("linux/arm64",)),
        ("image", "hello-tools", ("linux/arm64",)),
        ("image", "hello-chart", ("linux/arm64",)),
        ("index", "hello-tools", BOTH), ("export", "hello-tools", BOTH),
        ("index", "hello-chart", BOTH), ("export", "hello-chart", BOTH),
    }


def test_plan_says_which_input_changed_and_writes_nothing(workspace: Path) -> None:
    cli("plan", "-C", str(workspace))
    assert not (workspace / "cache").exists() and not (workspace / "out").exists()
    apply_json(workspace)
    (workspace / "applications/hello-tools/latest/manifests/job.yaml").write_text("kind: Job\n")
    plan = json.loads(cli("plan", "-C", str(workspace), "--json").stdout)
    stale = {(s["kind"], s["app"], tuple(s["platforms"])): s["reason"]
             for s in plan["steps"] if s["status"] == "stale"}
    assert stale[("layer", "hello-tools", ("linux/amd64",))] == \
        "changed: file manifests/job.yaml"
    assert stale[("image", "hello-tools", ("linux/arm64",))].startswith("changed: layer 0 (COPY . .)")
    assert {app for _, app, _ in stale} == {"hello-tools"}
    text = cli("plan", "-C", str(workspace)).stdout
    assert "stale" in text and "manifests/job.yaml" in text


def test_pushed_index_digest_equals_ours(workspace: Path, registry: str) -> None:
    ours = images(apply_json(workspace, "hello-tools"))[TOOLS]
    target = f"docker://{registry}/labring/hello-tools:v1.0.0"
    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{workspace / 'out'}:{TOOLS}", target)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", target).encode()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == ours
    pulled = json.loads(skopeo("inspect", "--tls-verify=false", "--override-arch", "arm64",
                               target))
    assert pulled["Architecture"] == "arm64"


def test_multi_platform_oci_archive_output(workspace: Path, tmp_path: Path) -> None:
    result = apply_json(workspace, "hello-tools", "--archive-multi")
    archive = workspace / "out/archives/hello-tools-v1.0.0.tar"
    raw = skopeo("inspect", "--raw", f"oci-archive:{archive}:{TOOLS}")
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == images(result)[TOOLS]
    again = apply_json(workspace, "hello-tools", "--archive-multi")
    assert again["ran"] == []
    archive.unlink()
    assert {r["kind"] for r in apply_json(workspace, "hello-tools", "--archive-multi")["ran"]} == {"export"}


def _buildah(tmp_path: Path) -> Any:
    storage = ["--root", str(tmp_path / "b-root"), "--runroot", str(tmp_path / "b-run"),
               "--storage-driver", "vfs"]

    def run(*args: str) -> str:
        proc = subprocess.run(["buildah", *storage, *args], capture_output=True, text=True)
        assert proc.returncode == 0, f"buildah {' '.join(args)}: {proc.stderr}"
        return proc.stdout.strip()
    return run


@pytest.mark.parametrize("kind", ["oci-archive", "docker-archive"])
def test_archives_load_without_a_name_as_app_version(workspace: Path, tmp_path: Path, kind: str) -> None:
    """What `sealos load` does: pull an archive naming no image; the name comes from it."""
    option, suffix = ("--archive", ".tar") if kind == "oci-archive" else ("--docker-archive", ".docker.tar")
    result = apply_json(workspace, "hello-tools", option)
    buildah = _buildah(tmp_path)
    for arch in ("amd64", "arm64"):
        archive = workspace / f"out/archives/hello-tools-v1.0.0-{arch}{suffix}"
        buildah("pull", "-q", f"{kind}:{archive}")
        listed = json.loads(buildah("images", "--json"))
        names = {name for image in listed for name in image.get("names") or []}
        assert TOOLS in names, names
        config = json.loads(buildah("inspect", "--type", "image", TOOLS))
        assert config["OCIv1"]["architecture"] == arch
        if kind == "oci-archive":  # the very manifest of the layout, one image per archive
            raw = skopeo("inspect", "--raw", f"oci-archive:{archive}")
            assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == images(result)[f"{TOOLS}-{arch}"]
        buildah("rmi", "--all", "--force")


def _add_registry_app(ws: Path) -> str:
    app = ws / "applications/with-registry/latest"
    blob = app / "registry/docker/registry/v2/blobs/sha256/ab/abcd/data"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(os.urandom(4096))
    link = app / "registry/docker/registry/v2/repositories/library/nginx/_layers/sha256/abcd/link"
    link.parent.mkdir(parents=True)
    link.write_text("sha256:abcd")
    (app / "manifests").mkdir()
    (app / "manifests/app.yaml").write_text("kind: ConfigMap\n")
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"kubectl apply -f manifests\"]\n")
    apps_yaml = ws / "apps.yaml"
    apps_yaml.write_text(apps_yaml.read_text() + "  with-registry:\n    versions: [\"v1\"]\n")
    return "docker.io/labring/with-registry:v1"


def test_registry_dir_is_an_uncompressed_layer_that_buildah_and_skopeo_read(
        workspace: Path, tmp_path: Path) -> None:
    ref = _add_registry_app(workspace)
    apply_json(workspace, "with-registry")
    layout = workspace / "out"
    manifest = json.loads(skopeo("inspect", "--raw", f"oci:{layout}:{ref}-arm64"))
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip"]
    files = layer_files(layout, f"{ref}-arm64", tmp_path / "skopeo")
    assert files["registry/docker/registry/v2/repositories/library/nginx/_layers/sha256/abcd/link"][1] \
        == b"sha256:abcd"

    storage = ["--root", str(tmp_path / "b-root"), "--runroot", str(tmp_path / "b-run"),
               "--storage-driver", "vfs"]

    def buildah(*args: str) -> str:
        proc = subprocess.run(["buildah", *storage, *args], capture_output=True, text=True)
        assert proc.returncode == 0, f"buildah {' '.join(args)}: {proc.stderr}"
        return proc.stdout.strip()

    image_id = buildah("pull", "-q", f"oci:{layout}:{ref}-arm64")
    container = buildah("from", "--pull=never", image_id)
    root = Path(buildah("mount", container))
    assert (root / "manifests/app.yaml").read_text() == "kind: ConfigMap\n"
    assert (root / "registry/docker/registry/v2/blobs/sha256/ab/abcd/data").stat().st_size == 4096
    buildah("rm", container)
    buildah("rmi", "--all", "--force")


def test_docker_archive_per_platform_is_read_by_skopeo(workspace: Path, tmp_path: Path) -> None:
    result = apply_json(workspace, "hello-tools", "--docker-archive")
    archive = workspace / "out/archives/hello-tools-v1.0.0-arm64.docker.tar"
    config = json.loads(skopeo("inspect", "--config", f"docker-archive:{archive}"))
    assert config["architecture"] == "arm64" and config["config"]["Cmd"] == ["bash entrypoint.sh"]
    ours = json.loads(skopeo("inspect", "--raw", f"oci:{workspace / 'out'}:{TOOLS}-arm64"))
    theirs = json.loads(skopeo("inspect", "--raw", f"docker-archive:{archive}"))
    assert theirs["config"]["digest"] == ours["config"]["digest"]
    assert [layer["digest"] for layer in theirs["layers"]] == config["rootfs"]["diff_ids"]
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == [TOOLS, f"{TOOLS}-arm64"]  # sealos run app:version finds it
    first = hashlib.sha256(archive.read_bytes()).hexdigest()
    archive.unlink()
    rerun = apply_json(workspace, "hello-tools", "--docker-archive")
    assert [r["kind"] for r in rerun["ran"]] == ["export"]
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == first
    assert images(rerun) == images(result)


def _git(ws: Path, *args: str, date: str = "") -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    if date:
        env |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "-C", str(ws), *args], check=True, capture_output=True, env=env)


def test_created_is_the_commit_time_of_the_app_dir_unless_source_date_epoch(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    _git(ws, "init", "-q")
    _git(ws, "add", "-A")
    _git(ws, "commit", "-q", "-m", "apps", date="2026-03-04T05:06:07Z")
    tools = ws / "applications/hello-tools/latest/manifests/configmap.yaml"
    tools.write_text(tools.read_text() + "# edited\n")
    _git(ws, "commit", "-q", "-am", "tools", date="2026-05-06T07:08:09Z")
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}

    def created(workspace: Path, ref: str, *extra: str, environ: dict[str, str] = env) -> str:
        subprocess.run([sys.executable, "-m", "clusterbuild", "apply", "-C", str(workspace), *extra],
                       check=True, capture_output=True, env=environ)
        config: str = json.loads(skopeo("inspect", "--config", f"oci:{workspace / 'out'}:{ref}"))["created"]
        return config

    assert created(ws, f"{TOOLS}-amd64") == "2026-05-06T07:08:09Z"
    assert created(ws, "docker.io/labring/hello-chart:v0.1.0-arm64") == "2026-03-04T05:06:07Z"
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ws), str(clone)], check=True, capture_output=True)
    assert created(clone, f"{TOOLS}-amd64") == "2026-05-06T07:08:09Z"
    ours = json.loads(skopeo("inspect", "--raw", f"oci:{ws / 'out'}:{TOOLS}"))
    theirs = json.loads(skopeo("inspect", "--raw", f"oci:{clone / 'out'}:{TOOLS}"))
    assert ours == theirs  # the same index, byte for byte, in another clone
    pinned = created(clone, f"{TOOLS}-amd64", environ={**env, "SOURCE_DATE_EPOCH": "5"})
    assert pinned == "1970-01-01T00:00:05Z"


def test_the_readme_first_command_leaves_the_checkout_clean(tmp_path: Path) -> None:
    """`clusterbuild -C examples/hello apply` in a clone: nothing shows in `git status`."""
    repo = Path(__file__).resolve().parents[1]
    if not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    cli("-C", str(clone / "examples/hello"), "apply")
    status = subprocess.run(["git", "-C", str(clone), "status", "--porcelain"], capture_output=True,
                            text=True, check=True).stdout
    assert status == ""
