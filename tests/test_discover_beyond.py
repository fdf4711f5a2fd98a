"""Discovery beyond sealos, on a chart written for it (tests/data/discover/beyond/charts/ops):
an image as the argument after ``--sidecar-image``, images in TOML/INI/JSON config text of a
ConfigMap, subcharts behind switches, images only values name, the chart authors' image
annotations, and a chart that refuses an install without ``-n`` (rendered as sealos renders).
Exact image sets per mode, profile and option; charts render in-process."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from clusterbuild.discover import DiscoverOptions, FoundImage, Profile, discover_images
from clusterbuild.discover.release import Release
from clusterbuild.discover.yaml_walk import walk_text
from clusterbuild.errors import InputError
from clusterbuild.schema.models import ImageOptions

APP = Path(__file__).parent / "data" / "discover" / "beyond"
CHART = APP / "charts" / "ops"

# sealos: the line scan of the render with release dryrun, namespace "", IsInstall false,
# NOTES.txt included. The chart fails when installed into "default": it renders here.
SEALOS = {
    "example.com/cache/cache:5.0",         # enabled subchart
    "example.com/no-namespace/probe:1",    # the image sealos' empty namespace picks
    "example.com/ops/app:1.0",             # image map through a helper
    "example.com/ops/debug:1",             # NOTES.txt
}
# full, defaults: what the YAML walk adds in the places the line scan misses.
FULL = SEALOS | {
    "example.com/ops/sidecar:2.0",         # `- --sidecar-image` then the reference
    "example.com/ops/runner:3.1",          # TOML `image = "…"` in a ConfigMap
    "example.com/ops/legacy-job:0.9",      # INI `default_image=…`
    "example.com/ops/job:1.0",             # JSON `"jobImage": "…"`
}
OPTIONAL = {"example.com/ops/metrics:1.1", "example.com/ops/os-shell:12"}  # metrics, volumePermissions
CACHE_METRICS = "example.com/cache/metrics:0.4"  # cache.metrics.enabled: the subchart's own switch
REPORTS = "example.com/reports/reports:2.2"      # subchart behind reports.enabled
NATS = {"example.com/nats/nats:2.9.1", "example.com/nats/nats:2.10.4", "example.com/nats/exporter:0.10.1"}


def context(root: Path) -> dict[str, Path]:
    return {path.relative_to(root).as_posix(): path for path in sorted(root.rglob("*")) if path.is_file()}


def names(found: list[FoundImage]) -> set[str]:
    return {str(image.reference) for image in found}


def sources(found: list[FoundImage], reference: str) -> tuple[str, ...]:
    return next(image.sources for image in found if str(image.reference) == reference)


def test_sealos_mode_renders_a_chart_that_refuses_an_install_without_namespace() -> None:
    found = discover_images(context(APP), DiscoverOptions(mode="sealos"))
    assert names(found) == SEALOS
    assert sources(found, "example.com/ops/debug:1") == (
        "charts/ops (templates/NOTES.txt:1, release dryrun) by line scan",)


def test_full_mode_finds_argument_pairs_and_config_text_with_line_and_rule() -> None:
    found = discover_images(context(APP), DiscoverOptions())
    assert names(found) == FULL
    where = "charts/ops (templates/{}, release dryrun) by {}"
    assert sources(found, "example.com/ops/sidecar:2.0") == (
        where.format("deployment.yaml:18", "argument pair --sidecar-image"),)
    assert sources(found, "example.com/ops/runner:3.1") == (
        where.format("configmap.yaml:9", "config text image"),)
    assert sources(found, "example.com/ops/legacy-job:0.9") == (
        where.format("configmap.yaml:13", "config text default_image"),)
    assert sources(found, "example.com/ops/job:1.0") == (
        where.format("configmap.yaml:15", "config text jobImage"),)
    assert sources(found, "example.com/ops/app:1.0") == (
        where.format("deployment.yaml:12", "line scan, YAML walk: containers[0].image"),)


@pytest.mark.parametrize(("profile", "added"), [
    (Profile(builtin="optional-features"), OPTIONAL),
    (Profile(builtin="optional-features", subcharts=True), OPTIONAL | {CACHE_METRICS}),
    (Profile(values={"metrics": {"enabled": True}}, subcharts=True),
     {"example.com/ops/metrics:1.1", CACHE_METRICS}),
    ({"cache": {"metrics": {"enabled": True}}}, {CACHE_METRICS}),  # the same key by hand
    (Profile(builtin="all-subcharts"), {REPORTS}),
    (Profile(builtin="all-subcharts", values={"volumePermissions": {"enabled": True}}), {
        REPORTS, "example.com/ops/os-shell:12"}),
], ids=["optional-features", "optional-features+subcharts", "values+subcharts", "by-hand", "all-subcharts",
        "all-subcharts+values"])
def test_profiles(profile: Profile | dict[str, object], added: set[str]) -> None:
    found = discover_images(context(APP), DiscoverOptions(profiles={"extra": profile}))
    assert names(found) == FULL | added
    for reference in added:
        assert all(", profile extra) by " in source for source in sources(found, reference))
    sealos = DiscoverOptions(mode="sealos", profiles={"extra": profile})
    assert names(discover_images(context(APP), sealos)) == SEALOS


def test_from_annotations_ships_what_the_authors_list_subcharts_included() -> None:
    found = discover_images(context(APP), DiscoverOptions(from_annotations=True))
    assert names(found) == FULL | {"example.com/ops/listed-only:0.1", "example.com/ops/metrics:1.1",
                                   CACHE_METRICS}
    assert sources(found, CACHE_METRICS) == (
        "charts/ops (charts/cache/Chart.yaml, annotation artifacthub.io/images) by annotation",)
    assert "charts/ops (Chart.yaml, annotation images) by annotation" in sources(
        found, "example.com/ops/app:1.0")


def test_from_annotations_reads_subchart_archives(tmp_path: Path) -> None:
    chart = _packed_subchart(tmp_path, "cache")
    files = {f"charts/ops/{key}": path for key, path in context(chart).items()}
    found = discover_images(files, DiscoverOptions(from_annotations=True))
    assert CACHE_METRICS in names(found)
    assert sources(found, CACHE_METRICS) == (
        "charts/ops (charts/cache-0.2.0.tgz/Chart.yaml, annotation artifacthub.io/images) by annotation",)


def test_from_values_ships_images_named_by_values_paths(tmp_path: Path) -> None:
    options = DiscoverOptions(from_values=("nats.versions", "nats.reloader", "cache.metrics.image"))
    found = discover_images(context(APP), options)
    assert names(found) == FULL | NATS | {"example.com/nats/reloader:0.14", CACHE_METRICS}
    assert sources(found, "example.com/nats/nats:2.9.1") == (
        "charts/ops (values nats.versions) by values path",)
    values = tmp_path / "ops.values.yaml"  # the sibling values file counts, as in the render
    values.write_text("nats: {reloader: {tag: '0.15'}}\n")
    found = discover_images({**context(APP), "charts/ops.values.yaml": values},
                            DiscoverOptions(from_values=("nats.reloader",)))
    assert "example.com/nats/reloader:0.15" in names(found)


@pytest.mark.parametrize("path", ["nats.missing", "nats.versions.0", "image.pullPolicy"])
def test_a_values_path_naming_no_image_is_an_error(path: str) -> None:
    with pytest.raises(InputError, match=rf"images.from_values: {path} names no image"):
        discover_images(context(APP), DiscoverOptions(from_values=(path,)))


def test_release_options_of_full_mode() -> None:
    installed = DiscoverOptions(namespace="ops", is_install=True)
    assert names(discover_images(context(APP), installed)) == FULL - {"example.com/no-namespace/probe:1"} | {
        "example.com/ops/probe:1", "example.com/ops/install-only:1"}
    assert "example.com/ops/probe:1" in names(discover_images(context(APP), DiscoverOptions(namespace="ops")))
    with pytest.raises(InputError, match=r"charts/ops/.*templates/.*yaml:\d+:\d+: chart does not render "
                                         r"\(release dryrun\): execution error: .*-n"):
        discover_images(context(APP), DiscoverOptions(namespace="default", is_install=True))
    with pytest.raises(ValueError, match="sealos mode renders with namespace ''"):
        DiscoverOptions(mode="sealos", is_install=True)


def test_packed_chart_with_packed_subchart_renders_as_sealos(tmp_path: Path) -> None:
    """The release fields are rewritten inside archives too: the cache subchart, packed
    into the packed chart, refuses an install into "default" and still renders."""
    chart = _packed_subchart(tmp_path, "cache")
    archive = tmp_path / "ops-1.0.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(chart, arcname="ops")
    for mode in ("sealos", "full"):
        found = discover_images({"charts/ops-1.0.0.tgz": archive}, DiscoverOptions(mode=mode))
        assert names(found) == (SEALOS if mode == "sealos" else FULL)
    with pytest.raises(InputError, match="cache needs -n"):
        discover_images({"charts/ops-1.0.0.tgz": archive},
                        DiscoverOptions(namespace="default", is_install=True))


def _packed_subchart(tmp_path: Path, name: str) -> Path:
    """A copy of the chart with subchart ``name`` packed, and what .helmignore leaves out
    removed (as `helm package` does: an archive is read whole)."""
    chart = tmp_path / "ops"
    shutil.copytree(CHART, chart, ignore=shutil.ignore_patterns("*.bak", ".hidden.yaml", "drafts"))
    with tarfile.open(chart / "charts" / f"{name}-0.2.0.tgz", "w:gz") as tar:
        tar.add(chart / "charts" / name, arcname=name)
    shutil.rmtree(chart / "charts" / name)
    return chart


@pytest.mark.parametrize(("template", "expected"), [
    ('{{ .Release.Namespace | quote }}', '{{ (print) | quote }}'),
    ('{{ if and $.Release.IsInstall (eq $root.Release.Namespace "default") }}',
     '{{ if and false (eq (print) "default") }}'),
    ('{{ .ctx.Release.IsUpgrade }} {{ .Release.Name }} {{ .Values.Release.NamespaceX }}',
     '{{ false }} {{ .Release.Name }} {{ .Values.Release.NamespaceX }}'),
    ('{{ tpl "{{ .Release.Namespace }}" . }}', '{{ tpl "{{ (print) }}" . }}'),
])
def test_release_rewrite(template: str, expected: str) -> None:
    """Release fields become constants whatever the prefix; names that only look alike stay."""
    assert Release().rewrite(template) == expected
    assert Release("ops", is_install=True).rewrite(template) == template  # the SDK sets those


WALKED = """\
apiVersion: v1
kind: Pod
spec:
  containers:
    - name: a
      image: example.com/a:1
      args: ["--log", "debug", "--init-image", "example.com/init:2", "--image-pull", "--x"]
      command:
        - run
        - --helper-image
        - "{{ .Values.helper }}"
---
kind: ConfigMap
data:
  a.toml: |
    # comment
    [build]
    image = "example.com/toml:3"
    imagePullPolicy = "Always"
    base_image = 'busybox'
    mirror_image = "https://example.com/not-an-image:1"
  b.json: '{"sidecarImage":"example.com/json:4","x":1}'
  c: "--config={'jobImage': 'example.com/arg:5'}"
"""


def test_walk_rules_for_argument_pairs_and_config_text() -> None:
    hits = [(str(hit.reference), hit.source, hit.rule) for hit in walk_text(WALKED, "m.yaml", strict=True)]
    assert hits == [
        ("example.com/a:1", "m.yaml:6", "YAML walk: containers[0].image"),
        ("example.com/init:2", "m.yaml:7", "argument pair --init-image"),
        ("example.com/toml:3", "m.yaml:18", "config text image"),
        ("example.com/json:4", "m.yaml:22", "config text sidecarImage"),
        ("example.com/arg:5", "m.yaml:23", "config text jobImage"),
    ]


def test_spec_profiles_and_release_options() -> None:
    from clusterbuild.workspace.scanning import _profiles

    spec = ImageOptions.model_validate({
        "profiles": {"a": "optional-features", "b": {"use": "all-subcharts", "subcharts": True},
                     "c": {"worker": {"enabled": True}}, "d": {"values": {"x": 1}, "subcharts": True}},
        "namespace": "ops", "is_install": True, "from_annotations": True, "from_values": ["nats.image"]})
    assert _profiles(spec.profiles) == {
        "a": Profile(builtin="optional-features"), "b": Profile(builtin="all-subcharts", subcharts=True),
        "c": {"worker": {"enabled": True}}, "d": Profile(values={"x": 1}, subcharts=True)}
    with pytest.raises(ValueError, match="from_values is read in discover: full only"):
        ImageOptions.model_validate({"discover": "sealos", "from_values": ["nats.image"]})
    with pytest.raises(ValueError):
        ImageOptions.model_validate({"profiles": {"a": "optional-featurez"}})


def test_rewritten_chart_is_read_as_helm_reads_its_directory() -> None:
    """The chart rewritten for the release holds what Helm's directory loader reads: the
    files .helmignore leaves out (templates/old.yaml.bak, templates/drafts/, hidden files in
    templates/) render in neither case."""
    for options in (DiscoverOptions(mode="sealos"), DiscoverOptions(namespace="ops", is_install=True)):
        assert not any("ignored" in name for name in names(discover_images(context(APP), options)))


@pytest.mark.parametrize(("text", "path", "directory", "ignored"), [
    ("*.bak", "templates/a.yaml.bak", False, True),
    ("*.bak", "templates/a.yaml", False, False),
    ("drafts/", "templates/drafts", True, True),
    ("drafts/", "templates/drafts", False, False),
    ("templates/*.txt", "templates/x.txt", False, True),
    ("templates/*.txt", "templates/sub/x.txt", False, False),   # * stops at /
    ("", "templates/.hidden.yaml", False, True),                # Helm's default rule
    ("", ".helmignore", False, False),
    ("/ci", "ci", True, True),
    ("[ab].yaml", "templates/b.yaml", False, True),
])
def test_helmignore(text: str, path: str, directory: bool, ignored: bool) -> None:
    from clusterbuild.discover.helmignore import parse_ignore

    rules = parse_ignore(text)
    assert rules is not None and rules(path, directory) is ignored
    assert parse_ignore("*.bak\n!keep.bak\n") is None  # negations: Helm loads the chart itself


RUNTIMES = """\
apiVersion: core.spinoperator.dev/v1alpha1
kind: SpinApp
metadata: {name: hello}
spec:
  image: ghcr.io/example/hello-spin:0.21.0
  replicas: 2
---
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      runtimeClassName: wasmtime-spin-v2
      containers:
        - name: app
          image: ghcr.io/example/wasm-app:1
---
kind: Pod
spec:
  runtimeClassName: gvisor
  containers: [{name: a, image: example.com/sandboxed:2}]
---
kind: Pod
spec:
  containers: [{name: a, image: example.com/plain:3}]
"""


def test_why_notes_the_runtime_and_wasm_workloads() -> None:
    hits = [(str(hit.reference), hit.source, hit.rule) for hit in walk_text(RUNTIMES, "m.yaml", strict=True)]
    assert hits == [
        ("ghcr.io/example/hello-spin:0.21.0", "m.yaml:5", "YAML walk: image (SpinApp, wasm)"),
        ("ghcr.io/example/wasm-app:1", "m.yaml:16",
         "YAML walk: containers[0].image (runtimeClassName wasmtime-spin-v2, wasm)"),
        ("example.com/sandboxed:2", "m.yaml:21", "YAML walk: containers[0].image (runtimeClassName gvisor)"),
        ("example.com/plain:3", "m.yaml:25", "YAML walk: containers[0].image"),
    ]
