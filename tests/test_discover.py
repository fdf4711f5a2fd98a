"""Image discovery on a test app (tests/data/discover/app): exactly what sealos mode and
full mode find, with --set overrides, profiles and kube versions; charts render in-process."""

from __future__ import annotations

import tarfile
from pathlib import Path
from types import MappingProxyType

import pytest

from clusterbuild.discover import DiscoverOptions, FoundImage, discover_images, helm_opts_from_env

DATA = Path(__file__).parent / "data" / "discover"
APP = DATA / "app"
DIGEST = "sha256:" + "ab" * 32
BOTH = " by line scan, YAML walk: containers[0].image"  # the rules that found a container image

# What `sealos build` would find: the line scan of manifests and of the default render
# (NOTES.txt included), shim lists, tar.txt. (.sealignore drops alpine:3.19, listed as
# docker.io/library/alpine:3.19.)
SEALOS = {
    "docker.io/example/api:2.1",             # manifests: single-quoted image
    "docker.io/example/embedded:1.0",        # manifests: `image:` line inside a ConfigMap block scalar
    "docker.io/example/init:1.4.2",          # chart: initContainer image built with tpl
    "docker.io/example/migrate:5",           # chart: pre-install hook Job
    "docker.io/example/notes-only:1",        # chart: NOTES.txt, line-scanned as sealos does
    "docker.io/example/offline:1.0",         # images/skopeo/tar.txt
    "docker.io/example/redis:7.2",           # chart: subchart enabled by its condition
    "docker.io/example/web:1.4.3",           # chart: include helper, tag from charts/web.values.yaml
    "docker.io/library/nginx:1.25",          # shim: digest dropped
    "quay.io/example/quoted:v1",             # shim: quoted
    "registry.k8s.io/pause:3.9",             # manifests: .tmpl (the templated image is skipped)
}
# What only the YAML walk finds.
FULL_ONLY = {
    "docker.io/envoyproxy/envoy:v1.30.1",    # manifests: `image: "…" # comment`
    "docker.io/example/tools:0.1",           # manifests: flow-style Pod
    "docker.io/example/backup:2.0",          # chart: CronJob jobTemplate, JSON-style container list
    "docker.io/example/log-shipper:0.9",     # chart: flow-style container
    "docker.io/library/busybox:1.36",        # chart: `image: "…" # comment`
    "quay.io/example/agent:v3",              # chart: CR with image {registry, repository, tag}
}


def context(root: Path) -> dict[str, Path]:
    return {path.relative_to(root).as_posix(): path for path in sorted(root.rglob("*")) if path.is_file()}


def names(found: list[FoundImage]) -> set[str]:
    return {str(image.reference) for image in found}


def sources(found: list[FoundImage], reference: str) -> tuple[str, ...]:
    return next(image.sources for image in found if str(image.reference) == reference)


def test_sealos_mode_finds_what_sealos_build_finds() -> None:
    assert names(discover_images(context(APP), DiscoverOptions(mode="sealos"))) == SEALOS


def test_full_mode_adds_the_yaml_walk() -> None:
    found = discover_images(context(APP), DiscoverOptions())
    assert names(found) == SEALOS | FULL_ONLY
    assert [str(image.reference) for image in found] == sorted(SEALOS | FULL_ONLY)


def test_sources_name_file_line_template_and_render() -> None:
    found = discover_images(context(APP), DiscoverOptions())
    assert sources(found, "docker.io/envoyproxy/envoy:v1.30.1") == (
        "manifests/app.yaml:13 by YAML walk: containers[1].image",)
    assert sources(found, "docker.io/example/tools:0.1") == (
        "manifests/app.yaml:18 by YAML walk: containers[0].image",)
    assert sources(found, "docker.io/library/nginx:1.25") == ("images/shim/extra.txt:5",)
    assert sources(found, "docker.io/example/migrate:5") == (
        "charts/web (templates/migrate-job.yaml:14, release dryrun)" + BOTH,)
    assert sources(found, "docker.io/example/redis:7.2") == (
        "charts/web (charts/redis-lite/templates/statefulset.yaml:10, release dryrun)" + BOTH,)
    offline = next(image for image in found if str(image.reference) == "docker.io/example/offline:1.0")
    assert offline.archives == ("docker-archive:images/skopeo/offline.tar",)


def test_set_overrides_render_again_in_full_mode_only() -> None:
    options = DiscoverOptions(helm_set=("--set", "worker.enabled=true"))
    found = discover_images(context(APP), options)
    assert names(found) == SEALOS | FULL_ONLY | {"docker.io/example/worker:1.4.2"}
    assert sources(found, "docker.io/example/worker:1.4.2") == (
        "charts/web (templates/worker.yaml:11, --set)" + BOTH,)
    assert "charts/web (templates/migrate-job.yaml:14, --set)" + BOTH in sources(
        found, "docker.io/example/migrate:5")
    sealos = DiscoverOptions(mode="sealos", helm_set=options.helm_set)
    assert names(discover_images(context(APP), sealos)) == SEALOS


def test_values_file_from_helm_opts() -> None:
    """A values file not named <chart>.values.yaml (sealos#2800), given by -f in HELM_OPTS."""
    helm_set = helm_opts_from_env({"HELM_OPTS": "--namespace web -f charts/values-prod.yaml --wait"})
    assert helm_set == ("-f", "charts/values-prod.yaml")
    found = discover_images(context(APP), DiscoverOptions(helm_set=helm_set))
    assert names(found) - SEALOS - FULL_ONLY == {"docker.io/example/worker:1.4.2"}


def test_global_image_registry_override() -> None:
    options = DiscoverOptions(helm_set=("--set", "global.imageRegistry=mirror.example.com:5000"))
    found = discover_images(context(APP), options)
    assert names(found) - SEALOS - FULL_ONLY == {"mirror.example.com:5000/example/web:1.4.3"}


def test_profiles_turn_on_templates_and_tagged_subcharts() -> None:
    profiles = {"all-on": {"worker": {"enabled": True}, "debug": {"enabled": True},
                           "tags": {"monitoring": True}}}
    found = discover_images(context(APP), DiscoverOptions(profiles=profiles))
    assert names(found) - SEALOS - FULL_ONLY == {
        "docker.io/example/debug-tools:latest", "docker.io/example/metrics-exporter:0.3",
        "docker.io/example/worker:1.4.2"}
    assert sources(found, "docker.io/example/metrics-exporter:0.3") == (
        "charts/web (charts/metrics/templates/daemonset.yaml:10, profile all-on)" + BOTH,)
    assert names(discover_images(context(APP), DiscoverOptions(mode="sealos", profiles=profiles))) == SEALOS


def test_a_profile_disabling_a_subchart_does_not_hide_it_from_later_renders() -> None:
    profiles = {"a-no-redis": {"redis-lite": {"enabled": False}},
                "b-monitoring": {"tags": {"monitoring": True}}}
    found = discover_images(context(APP), DiscoverOptions(profiles=profiles))
    assert names(found) == SEALOS | FULL_ONLY | {"docker.io/example/metrics-exporter:0.3"}
    assert sources(found, "docker.io/example/redis:7.2") == (
        "charts/web (charts/redis-lite/templates/statefulset.yaml:10, release dryrun)" + BOTH,
        "charts/web (charts/redis-lite/templates/statefulset.yaml:10, profile b-monitoring)" + BOTH)


def test_profile_over_set_values() -> None:
    monitoring = MappingProxyType({"tags": MappingProxyType({"monitoring": True})})  # any Mapping works
    options = DiscoverOptions(helm_set=("--set", "global.imageRegistry=mirror.example.com"),
                              profiles={"monitoring": monitoring})
    found = discover_images(context(APP), options)
    assert names(found) - SEALOS - FULL_ONLY == {
        "mirror.example.com/example/web:1.4.3", "mirror.example.com/example/metrics-exporter:0.3"}


def test_condition_false_in_sibling_values_leaves_the_subchart_out(tmp_path: Path) -> None:
    values = tmp_path / "web.values.yaml"
    values.write_text('image: {tag: "1.4.3"}\nredis-lite: {enabled: false}\n')
    files = {**context(APP), "charts/web.values.yaml": values}
    for mode in ("sealos", "full"):
        found = names(discover_images(files, DiscoverOptions(mode=mode)))
        assert "docker.io/example/redis:7.2" not in found
        assert "docker.io/example/web:1.4.3" in found


def test_digests_dropped_unless_kept() -> None:
    helm_set = ("--set-string", f"image.digest={DIGEST}")
    dropped = discover_images(context(APP), DiscoverOptions(helm_set=helm_set))
    assert names(dropped) == SEALOS | FULL_ONLY
    kept = names(discover_images(context(APP), DiscoverOptions(helm_set=helm_set, keep_digests=True)))
    assert f"docker.io/example/web:1.4.3@{DIGEST}" in kept
    assert "docker.io/library/nginx:1.25@sha256:" + "0" * 63 + "1" in kept


def test_kube_version_reaches_capabilities() -> None:
    found = names(discover_images(context(APP), DiscoverOptions(mode="sealos", kube_version="v1.24.0")))
    assert found == SEALOS | {"docker.io/example/legacy-proxy:1.0"}


def test_sealignore_matches_normalised_references() -> None:
    files = context(APP)
    del files[".sealignore"]
    assert names(discover_images(files, DiscoverOptions(mode="sealos"))) == SEALOS | {
        "docker.io/library/alpine:3.19"}


def test_packed_chart_renders_like_its_directory(tmp_path: Path) -> None:
    archive = tmp_path / "web-0.3.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(APP / "charts" / "web", arcname="web")
    files = {key: path for key, path in context(APP).items() if not key.startswith("charts/web/")}
    found = discover_images({**files, "charts/web-0.3.0.tgz": archive}, DiscoverOptions())
    assert names(found) == SEALOS | FULL_ONLY
    assert sources(found, "docker.io/example/migrate:5") == (
        "charts/web-0.3.0.tgz (templates/migrate-job.yaml:14, release dryrun)" + BOTH,)


@pytest.mark.parametrize("extra", [False, True], ids=["files-elsewhere", "extra-file-on-disk"])
def test_chart_files_are_read_through_the_mapping(tmp_path: Path, extra: bool) -> None:
    """Chart files stored under other names (a content store), or a chart directory holding a
    file the context leaves out: the chart is rendered from exactly the mapped files."""
    files = context(APP)
    if extra:
        chart = tmp_path / "web"
        chart.mkdir()
        for key, path in files.items():
            if key.startswith("charts/web/"):
                (chart / key.removeprefix("charts/web/")).parent.mkdir(parents=True, exist_ok=True)
                (chart / key.removeprefix("charts/web/")).write_bytes(path.read_bytes())
                files[key] = chart / key.removeprefix("charts/web/")
        (chart / "templates" / "excluded.yaml").write_text("image: example/excluded:1\n")
    else:
        for number, key in enumerate(sorted(files)):
            files[key] = tmp_path / f"blob-{number}"
            files[key].write_bytes(context(APP)[key].read_bytes())
    assert names(discover_images(files, DiscoverOptions())) == SEALOS | FULL_ONLY
