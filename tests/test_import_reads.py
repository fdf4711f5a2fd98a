"""Values an init.sh reads out of its files to list images (``images.read``): the filters run
in process against the real grep/awk/cut/sed/sort/tr run by bash, the importer's conversion of
each shape, and a script built the legacy way (in the sandbox, against a local HTTP server and
registry) and the imported way, shipping the same images."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest
from test_import import HEADER, VERSION, _content, _images, _workspace, convert, seeded, to_do  # noqa: F401

from clusterbuild.fetch.textread import UnsupportedRead, parse_run, read_yq
from clusterbuild.importer import convert_init_sh, write_conversion

from conftest import apply_json, cli, copy_workspace

SAMPLE = """#!/bin/bash
set -euo pipefail
VERSION="v1.12.4"
  DefaultFluentdImageTag = "v1.16-4.9-full"
\tconst defaultImage = "redis:7.2.4-alpine"
runners:
  config: |
    [[runners]]
      [runners.kubernetes]
        image = "ubuntu:22.04"
image: ghcr.io/k8snetworkplumbingwg/sriov-cni:v2.8.0
  image: ghcr.io/k8snetworkplumbingwg/ib-sriov-cni:v1.1.1 # x
# image: ghcr.io/k8snetworkplumbingwg/commented:v1
     - image: "gcr.io/tekton-releases/a:v1@sha256:abc", "gcr.io/b/c:v2"
GrafanaImage   = "docker.io/grafana/grafana"
"""

PIPELINES = [
    'grep "^VERSION=" | awk -F "[\\"\\"]" \'{print $2}\'',
    "grep -E \"^\\s+(DefaultFluentdImageTag.*)\" | cut -d '\"' -f2",
    "grep defaultImage | awk -F \"[\\\"\\\"]\" '{print $2}' | awk -F: '{print $2}'",
    "grep \"image = .*ubuntu:\" | cut -d'\"' -f2",
    "grep \"ghcr.io/k8snetworkplumbingwg\" | awk '{print $2}'",
    "grep Image | grep -v '#' | awk '{ print $2 }'",
    "grep -o 'gcr.io[^\",]*' | awk '{print $1}' | sort -u",
    "grep image | awk '{print $NF}' | sort -r | uniq | head -n 2",
    "grep image | awk -F'image: ' '{print \"docker.io/\"$2}' | tr -d '\"' | sed 's/:.*//' | tail -1",
    "grep -w image | awk '{print $(NF-1), $1}' | xargs",
    "grep -i GRAFANA | cut -d= -f2- | tr -d ' \"'",
    "grep -e runners -e VERSION | sed -E 's/[[:space:]]+/ /g' | cut -c1-5 | head -1",
]


@pytest.mark.parametrize("run", PIPELINES)
def test_the_filters_print_what_the_real_tools_print(run: str) -> None:
    if "cut -c" in run:  # characters are not supported: refused, not guessed
        with pytest.raises(UnsupportedRead, match="cut"):
            parse_run(run)
        return
    real = subprocess.run(["bash", "-c", run], input=SAMPLE, capture_output=True, text=True,
                          env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}, check=False).stdout
    assert real  # each pipeline prints something of the sample
    assert parse_run(run).apply(SAMPLE) == real


@pytest.mark.parametrize("run,why", [("curl -s https://example.com", "curl is not one of the filters"),
                                     ("grep -r image deploy", "grep -r reads files"),
                                     ("awk '{sum += $2} END {print sum}'", "is not one print of fields"),
                                     ("grep x ||", "is not a pipe")])
def test_other_commands_are_refused_with_the_reason(run: str, why: str) -> None:
    with pytest.raises(UnsupportedRead, match=why):
        parse_run(run)


def test_yq_prints_scalars_as_written() -> None:
    values = "image:\n  tag: 1.10\n  name: \"x\"\n  list: [a, b]\n  none: ~\n"
    assert [read_yq(values, p) for p in (".image.tag", ".image.name", ".image.list[1]", ".image.none",
                                         ".image.absent")] == ["1.10", "x", "b", "null", "null"]
    with pytest.raises(UnsupportedRead, match="names a list"):
        read_yq(values, ".image.list")
    with pytest.raises(UnsupportedRead, match="2 YAML documents"):
        read_yq("a: 1\n---\na: 2\n", ".a")
    with pytest.raises(UnsupportedRead, match="not a plain path"):
        read_yq(values, '.image.repository + ":" + .image.tag')


# -- the importer ---------------------------------------------------------------------------------

def test_values_read_out_of_downloaded_files_become_reads_the_image_list_names() -> None:
    conversion = convert("""
helm repo add openebs https://openebs.github.io/charts
helm pull openebs/openebs --version=${VERSION#v} -d charts/ --untar
wget -qO scripts/install.sh https://example.com/${VERSION}/install.sh
utils_tag=$(helm show values charts/openebs --jsonpath {.helper.imageTag})
helper=`yq .helper.image charts/openebs/values.yaml`
thanos=$(cat charts/openebs/values.yaml | yq .thanos.tag)
image_tag=$(cat scripts/install.sh |grep "^VERSION=" | awk -F "[\\"\\"]" '{print $2}')
unused=$(yq .nothing charts/openebs/values.yaml)
mkdir -p images/shim
echo "docker.io/openebs/linux-utils:$utils_tag" > images/shim/openebsImages
cat <<EOF >> images/shim/openebsImages
docker.io/library/${helper}
quay.io/thanos/thanos:${thanos}
docker.io/kubeovn/kube-ovn:${image_tag}
EOF
cat charts/openebs/values.yaml | grep "ghcr.io/openebs" | awk '{print $2}' > images/shim/listed
""")
    assert conversion.spec["images"]["extra"] == [
        "docker.io/openebs/linux-utils:{{ read.utils_tag }}", "docker.io/library/{{ read.helper }}",
        "quay.io/thanos/thanos:{{ read.thanos }}", "docker.io/kubeovn/kube-ovn:{{ read.image_tag }}",
        "{{ read.listed }}"]
    assert conversion.spec["images"]["read"] == {
        "utils_tag": {"file": "charts/openebs/values.yaml", "yq": ".helper.imageTag"},
        "helper": {"file": "charts/openebs/values.yaml", "yq": ".helper.image"},
        "thanos": {"file": "charts/openebs/values.yaml", "yq": ".thanos.tag"},
        "image_tag": {"file": "scripts/install.sh", "run": "grep '^VERSION=' | awk -F '[\"\"]' '{print $2}'"},
        "listed": {"file": "charts/openebs/values.yaml", "run": "grep ghcr.io/openebs | awk '{print $2}'"}}
    assert to_do(conversion) == []
    assert "line 11 utils_tag=$(helm show values charts/openebs --jsonpath {.helper.imageTag}) -> " \
        "images.read.utils_tag" in [c.replace("init.sh:", "line ") for c in conversion.converted]
    assert any(s.startswith("init.sh:15 unused=") and "not needed" in s for s in conversion.skipped)


def test_a_read_of_a_removed_download_is_read_when_locked_by_every_line_naming_it() -> None:
    conversion = convert("""
wget -qO- https://example.com/src-${VERSION}.tar.gz | tar -zx
mv src-${VERSION#v}/deploy/helm charts/
tag=$(cat src-${VERSION#v}/constants.go | grep Tag | awk -F '"' '{print $2}')
rm -rf src-${VERSION#v}
wget -q https://example.com/$tag/tool -O opt/tool
mkdir -p images/shim
echo "docker.io/x/y:$tag" > images/shim/list
cat <<'EOF' > Kubefile
FROM scratch
COPY . .
EOF
""")  # the image ships the whole app dir: the file is not kept, its value is read when locked
    assert "images" not in conversion.spec
    assert to_do(conversion) == []
    assert conversion.spec["releases"] == {"tag": {
        "url": "https://example.com/src-{{ version }}.tar.gz",
        "file": "src-{{ version | strip_v }}/constants.go",
        "run": "grep Tag | awk -F '\"' '{print $2}'"}}
    placed = {i["dest"]: i for i in conversion.spec["inputs"] if "dest" in i}
    assert placed["opt/tool"]["url"] == "https://example.com/{{ releases.tag }}/tool"
    assert placed["images/shim/list"]["text"] == "docker.io/x/y:{{ releases.tag }}\n"


def test_a_read_is_not_a_value_outside_image_lists_unless_the_file_is_a_download() -> None:
    conversion = convert("""
mkdir -p opt
tag=$(cat scripts/constants.go | grep Tag | awk -F '"' '{print $2}')
wget -q https://example.com/$tag/tool -O opt/tool
""")  # a committed file: read when the images are scanned, too late for a download
    assert "releases" not in conversion.spec
    assert [line.split(": not convertible ")[1] for line in to_do(conversion)] == [
        "(the URL: $tag (line 9) comes from the output of `cat | grep | awk`)"]


def test_a_file_edited_after_it_is_read_is_not_read_at_build_time() -> None:
    conversion = convert("""
wget -qO manifests/app.yaml https://example.com/${VERSION}/app.yaml
tag=$(yq .spec.tag manifests/app.yaml)
sed -i 's/tag: 1/tag: 2/' manifests/app.yaml
echo "docker.io/x/y:$tag" > images/shim/list
""")
    assert "images" not in conversion.spec
    assert to_do(conversion)[-1].endswith("(the image list: reads manifests/app.yaml before the script "
                                          "edits it: read it after the edits)")


# -- the spec -----------------------------------------------------------------------------------

def test_a_bad_read_is_one_line_naming_the_field(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    app = ws / "applications/reads/latest"
    app.mkdir(parents=True)
    (ws / "applications/reads/README.md").write_text("# reads\n")
    (app / "Kubefile").write_text("FROM scratch\nCOPY registry registry\n")
    (app / "clusterbuild.yaml").write_text(
        "images:\n  extra: ['docker.io/x/y:{{ read.tag }}']\n"
        "  read:\n    tag: {file: notes.txt, run: \"curl -s https://example.com | awk '{print $2}'\"}\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  reads:\n    versions: [v1]\n")
    proc = cli("check", "-C", str(ws), "reads", check=False)
    assert proc.returncode == 3 and "unexpected" not in proc.stderr
    assert "images.read.tag" in proc.stderr and "curl is not one of the filters" in proc.stderr


# -- end to end ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_reads_build_what_the_script_builds(tmp_path: Path, static_server: tuple[str, Path],
                                            seeded: str) -> None:  # noqa: F811
    url, root = static_server
    (root / f"shop/{VERSION}").mkdir(parents=True)
    (root / f"shop/{VERSION}/install.yaml").write_text(
        "kind: ConfigMap\nmetadata:\n  name: versions\ndata:\n  sidecar-version: 1.2.3\n  web: \"1\"\n")
    (root / f"shop/{VERSION}/images.conf").write_text(
        f"# images the operator starts\nextra-image: {seeded}/seed/extra:1\nweb-image: {seeded}/seed/web:1\n"
        "other: nothing\n")
    script = HEADER + (
        "mkdir -p manifests images/shim conf\n"
        f"wget -q {url}/shop/${{VERSION}}/install.yaml -O manifests/install.yaml\n"
        f"wget -q {url}/shop/${{VERSION}}/images.conf -O conf/images.conf\n"
        "tag=$(cat manifests/install.yaml | grep 'sidecar-version:' | awk '{print $2}')\n"
        "web=$(yq -r .data.web manifests/install.yaml)\n"
        f'echo "{seeded}/seed/sidecar:${{tag}}" > images/shim/sidecar\n'
        f'echo "{seeded}/seed/web:${{web}}" >> images/shim/sidecar\n'
        "cat conf/images.conf | grep -- '-image:' | awk -F': ' '{print $2}' > images/shim/listed\n"
        "cat <<'EOF' > Kubefile\nFROM scratch\nCOPY manifests manifests\nCOPY conf conf\n"
        'COPY registry registry\nCMD ["kubectl apply -f manifests"]\nEOF\n')
    legacy, _ = _workspace(tmp_path / "legacy", "shop", {"init.sh": script}, seeded)
    converted, app_dir = _workspace(tmp_path / "converted", "shop", {}, seeded)
    apply_json(legacy, "shop")
    conversion = convert_init_sh(script, "shop", app_dir=app_dir)
    assert to_do(conversion) == []
    assert set(conversion.spec["images"]["read"]) == {"tag", "web", "listed"}
    write_conversion(app_dir, conversion)
    (app_dir.parent / "README.md").write_text("# shop\n")
    cli("check", "-C", str(converted), "shop")
    cli("lock", "-C", str(converted), "shop")
    apply_json(converted, "shop", "--frozen")
    for arch in ("amd64", "arm64"):
        assert _content(converted, "shop", arch, tmp_path) == _content(legacy, "shop", arch, tmp_path)
    expected = {f"{seeded}/seed/sidecar:1.2.3", f"{seeded}/seed/web:1", f"{seeded}/seed/extra:1"}
    assert _images(converted, "shop") == _images(legacy, "shop") == expected


@pytest.mark.slow
def test_a_shipped_image_list_naming_reads_holds_what_the_script_wrote(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    from test_import_shapes import _files

    url, root = static_server
    (root / f"shop/{VERSION}").mkdir(parents=True)
    (root / f"shop/{VERSION}/values.yaml").write_text("helper:\n  imageTag: 1.2.3\n")
    script = HEADER + (  # the app dir's Kubefile is COPY . .: images/shim/ is in the image
        "mkdir -p manifests images/shim\n"
        f"wget -q {url}/shop/${{VERSION}}/values.yaml -O manifests/values.yaml\n"
        "tag=$(cat manifests/values.yaml | grep imageTag | awk '{print $2}')\n"
        f'echo "{seeded}/seed/sidecar:${{tag}}" > images/shim/shopImages\n')
    legacy, _ = _workspace(tmp_path / "legacy", "shop", {"init.sh": script}, seeded)
    converted, app_dir = _workspace(tmp_path / "converted", "shop", {}, seeded)
    apply_json(legacy, "shop")
    conversion = convert_init_sh(script, "shop", app_dir=app_dir)
    assert to_do(conversion) == []
    assert conversion.spec["inputs"][1] == {"kind": "text", "dest": "images/shim/shopImages",
                                            "text": f"{seeded}/seed/sidecar:{{{{ read.tag }}}}\n"}
    write_conversion(app_dir, conversion)
    (app_dir.parent / "README.md").write_text("# shop\n")
    cli("check", "-C", str(converted), "shop")
    cli("lock", "-C", str(converted), "shop")
    apply_json(converted, "shop", "--frozen")
    for arch in ("amd64", "arm64"):
        shim = [_files(ws, "shop", arch, tmp_path, "images/") for ws in (legacy, converted)]
        assert shim[0] == shim[1] == {"images/shim/shopImages": f"{seeded}/seed/sidecar:1.2.3\n".encode()}
        assert _content(converted, "shop", arch, tmp_path) == _content(legacy, "shop", arch, tmp_path)
    assert _images(converted, "shop") == _images(legacy, "shop") == {f"{seeded}/seed/sidecar:1.2.3"}


def test_a_chart_version_picked_by_app_version_and_a_yq_join_in_image_lists() -> None:
    conversion = convert("""
helm repo add pravega https://charts.pravega.io
chart_version=`helm search repo --versions --regexp '\\vpravega/zookeeper-operator\\v' |grep ${VERSION#v} \\
  | awk '{print $2}' | sort -rn | head -n1`
helm pull pravega/zookeeper-operator --version=${chart_version} -d charts/ --untar
mkdir -p images/shim
echo "pravega/zookeeper:${chart_version}" > images/shim/images
yq eval '. += {"certmanager-issuer": {"email": "email@example.com"}}' -i charts/zookeeper-operator/values.yaml
yq eval '.image.registry + "/" + .image.repository + ":" + .image.tag' \\
  charts/zookeeper-operator/values.yaml > images/shim/operator
""")
    assert to_do(conversion) == []
    merged = {"certmanager-issuer": {"email": "email@example.com"}}
    assert conversion.spec["inputs"][0]["values"] == {"set": merged}
    assert conversion.spec["images"]["extra"] == [
        "pravega/zookeeper:{{ read.chart_version }}",
        "{{ read.operator }}/{{ read.operator_2 }}:{{ read.operator_3 }}"]
    values = "charts/zookeeper-operator/values.yaml"
    assert conversion.spec["images"]["read"] == {
        "chart_version": {"file": "charts/zookeeper-operator/Chart.yaml", "yq": ".version"},
        "operator": {"file": values, "yq": ".image.registry"},
        "operator_2": {"file": values, "yq": ".image.repository"},
        "operator_3": {"file": values, "yq": ".image.tag"}}


def test_yq_merges_a_map_as_values_set_under_its_path() -> None:
    from clusterbuild.fetch.yq import parse_edits

    merged = parse_edits('.a += {"b.c": 1, d: {e: x}} | .f = 2').set
    assert merged == {"a.b\\.c": 1, "a.d": {"e": "x"}, "f": 2}
    with pytest.raises(ValueError, match=r"is not `\.path = value`"):
        parse_edits(".a += [1]")
    with pytest.raises(ValueError, match="not a map of plain values"):
        parse_edits(".a += {}")


@pytest.mark.slow
def test_a_file_read_out_of_a_removed_archive_is_read_when_locked(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    from conftest import tgz

    url, root = static_server
    plain = VERSION.lstrip("v")
    (root / "shop").mkdir()
    (root / f"shop/{VERSION}.tar.gz").write_bytes(tgz({
        f"shop-{plain}/deploy/web.yaml": b"kind: ConfigMap\nmetadata:\n  name: web\n",
        f"shop-{plain}/pkg/constants.go": b'package pkg\n\nconst SidecarTag = "1.2.3"\n'}))
    script = HEADER + (
        "mkdir -p manifests\n"
        f'wget -qO- "{url}/shop/${{VERSION}}.tar.gz" | tar -zx\n'
        'mv "shop-${VERSION#v}/deploy/web.yaml" manifests/web.yaml\n'
        "tag=$(cat shop-${VERSION#v}/pkg/constants.go | grep SidecarTag | awk -F '\"' '{print $2}')\n"
        'rm -rf "shop-${VERSION#v}"\n'
        "mkdir -p images/shim\n"
        f'echo "{seeded}/seed/sidecar:$tag" > images/shim/sidecar\n'
        "cat <<'EOF' > Kubefile\nFROM scratch\nCOPY manifests manifests\nCOPY registry registry\n"
        'CMD ["kubectl apply -f manifests"]\nEOF\n')
    legacy, _ = _workspace(tmp_path / "legacy", "shop", {"init.sh": script}, seeded)
    converted, app_dir = _workspace(tmp_path / "converted", "shop", {}, seeded)
    apply_json(legacy, "shop")
    conversion = convert_init_sh(script, "shop", app_dir=app_dir)
    assert to_do(conversion) == []
    assert conversion.spec["releases"] == {"tag": {  # read when locked: the image never holds the file
        "url": f"{url}/shop/{{{{ version }}}}.tar.gz",
        "file": "shop-{{ version | strip_v }}/pkg/constants.go",
        "run": "grep SidecarTag | awk -F '\"' '{print $2}'"}}
    assert [i["kind"] for i in conversion.spec["inputs"]] == ["binary"]
    assert conversion.spec["images"] == {"extra": [f"{seeded}/seed/sidecar:{{{{ releases.tag }}}}"]}
    write_conversion(app_dir, conversion)
    (app_dir.parent / "README.md").write_text("# shop\n")
    cli("check", "-C", str(converted), "shop")
    cli("lock", "-C", str(converted), "shop")
    apply_json(converted, "shop", "--frozen")
    for arch in ("amd64", "arm64"):
        assert _content(converted, "shop", arch, tmp_path) == _content(legacy, "shop", arch, tmp_path) \
            == {"manifests/web.yaml": b"kind: ConfigMap\nmetadata:\n  name: web\n"}
    assert _images(converted, "shop") == _images(legacy, "shop") == {f"{seeded}/seed/sidecar:1.2.3"}


KUBEBLOCKS_SHAPE = """
rm -rf charts
mkdir charts
repo_url="{url}/download"
charts=( "blocks" "cache")
for chart in "${{charts[@]}}"; do
  chart_version=${{VERSION#v}}
  if [[ "$chart" != "blocks" ]]; then
    chart_version=$(cat charts/blocks/templates/addons/$chart-addon.yaml | (grep "\\"version\\"" || true) \\
      | awk '{{print $2}}'| sed 's/"//g')
    rm -rf charts/blocks
  fi
  {fetch} "$repo_url"/"${{chart}}"-"${{chart_version}}"/"${{chart}}"-"${{chart_version}}".tgz{tail}
  rm -rf charts/"${{chart}}"-"${{chart_version}}".tgz
done
"""


def _chart(name: str, version: str, templates: dict[str, bytes]) -> bytes:
    from conftest import tgz

    meta = f"apiVersion: v2\nname: {name}\nversion: {version}\n".encode()
    return tgz({f"{name}/Chart.yaml": meta, f"{name}/values.yaml": b"{}\n",
                **{f"{name}/templates/{path}": text for path, text in templates.items()}}, executables=())


def test_a_chart_version_read_out_of_another_chart_that_is_then_removed_is_a_release() -> None:
    conversion = convert(KUBEBLOCKS_SHAPE.format(url="https://example.com",
                                                 fetch="helm fetch -d charts --untar", tail=""))
    assert to_do(conversion) == []
    assert conversion.spec["releases"] == {"chart_version": {
        "url": "https://example.com/download/blocks-{{ version | strip_v }}/"
               "blocks-{{ version | strip_v }}.tgz",
        "file": "*/templates/addons/cache-addon.yaml",
        "run": "grep '\"version\"' | awk '{print $2}' | sed 's/\"//g'"}}
    assert conversion.spec["inputs"] == [{  # the chart read from is not shipped
        "kind": "chart", "name": "cache",
        "url": "https://example.com/download/cache-{{ releases.chart_version }}/"
               "cache-{{ releases.chart_version }}.tgz"}]
    assert any(c.endswith("-> releases.chart_version") for c in conversion.converted)


@pytest.mark.slow
def test_a_chart_version_read_out_of_a_removed_chart_builds_as_the_script_does(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    """The kubeblocks addons' shape. The legacy build runs the script with `wget | tar -zx -C
    charts` where it says `helm fetch --untar -d charts` (no helm binary in the sandbox here):
    the same files land in charts/."""
    url, root = static_server
    plain = VERSION.lstrip("v")
    (root / f"download/blocks-{plain}").mkdir(parents=True)
    (root / "download/cache-0.9.2").mkdir(parents=True)
    (root / f"download/blocks-{plain}/blocks-{plain}.tgz").write_bytes(_chart("blocks", plain, {
        "addons/cache-addon.yaml": b'spec:\n  install:\n    "version": "0.9.2"\n'}))
    (root / "download/cache-0.9.2/cache-0.9.2.tgz").write_bytes(_chart("cache", "0.9.2", {
        "pod.yaml": b"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
                    + f"    - image: {seeded}/seed/sidecar:1.2.3\n".encode()}))
    legacy_script = HEADER + KUBEBLOCKS_SHAPE.format(url=url, fetch="wget -qO- ", tail=" | tar -zx -C charts")
    script = HEADER + KUBEBLOCKS_SHAPE.format(url=url, fetch="helm fetch -d charts --untar", tail="")
    legacy, _ = _workspace(tmp_path / "legacy", "blocks-cache", {"init.sh": legacy_script}, seeded)
    converted, app_dir = _workspace(tmp_path / "converted", "blocks-cache", {}, seeded)
    apply_json(legacy, "blocks-cache")
    conversion = convert_init_sh(script, "blocks-cache", app_dir=app_dir)
    assert to_do(conversion) == []
    write_conversion(app_dir, conversion)
    (app_dir.parent / "README.md").write_text("# blocks-cache\n")
    cli("check", "-C", str(converted), "blocks-cache")
    cli("lock", "-C", str(converted), "blocks-cache")
    assert "tag: 0.9.2" in (converted / "apps.lock").read_text()
    apply_json(converted, "blocks-cache", "--frozen")
    for arch in ("amd64", "arm64"):
        files = _content(converted, "blocks-cache", arch, tmp_path)
        assert files == _content(legacy, "blocks-cache", arch, tmp_path)
        assert sorted(files) == ["charts/cache/Chart.yaml", "charts/cache/templates/pod.yaml",
                                 "charts/cache/values.yaml"]
    assert _images(converted, "blocks-cache") == _images(legacy, "blocks-cache") \
        == {f"{seeded}/seed/sidecar:1.2.3"}


def test_a_release_read_out_of_a_download_is_checked_and_a_read_giving_nothing_fails_the_lock(
        tmp_path: Path, static_server: tuple[str, Path]) -> None:
    url, root = static_server
    (root / "blocks.tgz").write_bytes(_chart("blocks", "1.0.0", {"addons/cache-addon.yaml": b"spec: {}\n"}))
    ws = copy_workspace(tmp_path / "ws")
    app = ws / "applications/shop/latest"
    app.mkdir(parents=True)
    (app.parent / "README.md").write_text("# shop\n")
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  shop:\n    versions: [v1]\n")
    spec = app / "clusterbuild.yaml"
    for bad, says in ((f"{{url: {url}/blocks.tgz, file: '*/Chart.yaml'}}", "exactly one of yq, run"),
                      ("{github: acme/tool, yq: .version}", "yq is read with url only"),
                      (f"{{url: {url}/blocks.tgz, run: 'paste -s'}}", "paste")):
        spec.write_text(f"releases:\n  v: {bad}\ninputs:\n  - kind: text\n    dest: v.txt\n"
                        "    text: '{{ releases.v }}'\n")
        proc = cli("check", "-C", str(ws), "shop", check=False)
        assert proc.returncode == 3 and "releases.v" in proc.stderr and says in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    spec.write_text(f"releases:\n  v:\n    url: {url}/blocks.tgz\n"
                    "    file: '*/templates/addons/cache-addon.yaml'\n"
                    "    run: grep '\"version\"' | awk '{print $2}'\n"
                    "inputs:\n  - kind: text\n    dest: v.txt\n    text: '{{ releases.v }}'\n")
    cli("check", "-C", str(ws), "shop")  # offline: nothing is downloaded
    proc = cli("lock", "-C", str(ws), "shop", check=False)
    assert proc.returncode == 4 and "releases.v" in proc.stderr and "gave nothing" in proc.stderr, proc.stderr
    assert not (ws / "apps.lock").exists() or "releases.v" not in (ws / "apps.lock").read_text()
    spec.write_text(f"releases:\n  v: {{url: {url}/blocks.tgz, file: '*/Chart.yaml', yq: .version}}\n"
                    "inputs:\n  - kind: text\n    dest: v.txt\n    text: '{{ releases.v }}'\n")
    cli("lock", "-C", str(ws), "shop")
    assert "tag: 1.0.0" in (ws / "apps.lock").read_text()


RELEASE_LIST = """
mkdir -p opt
release_url="{url}/repos/acme/cli/releases"
tkn_version=$(curl -s ${{release_url}} | grep tag_name | grep -v -- '-rc' | sort -r | head -1 \\
  | awk -F': ' '{{print $2}}' | sed 's/,//' | xargs)
wget -qO- "{url}/acme/cli/releases/download/${{tkn_version}}/cli_${{tkn_version#v}}.tar.gz" \
  | tar -zx -C ./opt cli
chmod +x opt/cli
"""
RELEASES_JSON = b"""[
  {
    "tag_name": "v0.9.0",
    "prerelease": false
  },
  {
    "tag_name": "v0.10.0-rc.1",
    "prerelease": true
  },
  {
    "tag_name": "v0.8.1",
    "prerelease": false
  }
]
"""


def test_a_value_read_out_of_a_download_through_filters_is_a_release() -> None:
    conversion = convert(RELEASE_LIST.format(url="https://api.example.com"))
    assert to_do(conversion) == []
    assert conversion.spec["releases"] == {"tkn_version": {
        "url": "https://api.example.com/repos/acme/cli/releases",
        "run": "grep tag_name | grep -v -- -rc | sort -r | head -1 | awk '-F: ' '{print $2}' | sed s/,// "
               "| xargs"}}
    assert conversion.spec["inputs"][0]["url"] == "https://api.example.com/acme/cli/releases/download/" \
        "{{ releases.tkn_version }}/cli_{{ releases.tkn_version | strip_v }}.tar.gz"
    for unsure in ("curl -s -o out.json https://x.example.com/list | grep a",  # writes a file
                   "curl -s https://x.example.com/list | jq -r .a",  # jq: not a text filter here
                   "wget -q https://x.example.com/list | grep a"):  # wget without -O -: saves a file
        body = f"mkdir -p opt\nv=$({unsure})\nwget -q https://example.com/$v/tool -O opt/tool\n"
        assert "releases" not in convert(body).spec, unsure


@pytest.mark.slow
def test_a_release_read_out_of_a_release_list_builds_as_the_script_does(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    """tekton's shape: the highest tag that is not a release candidate, by the script's filters."""
    from conftest import tgz

    url, root = static_server
    (root / "repos/acme/cli").mkdir(parents=True)
    (root / "repos/acme/cli/releases").write_bytes(RELEASES_JSON)
    (root / "acme/cli/releases/download/v0.9.0").mkdir(parents=True)
    (root / "acme/cli/releases/download/v0.9.0/cli_0.9.0.tar.gz").write_bytes(
        tgz({"cli": b"#!/bin/sh\necho 0.9.0\n", "README.md": b"cli\n"}))
    script = HEADER + RELEASE_LIST.format(url=url)
    legacy, _ = _workspace(tmp_path / "legacy", "cli", {"init.sh": script}, seeded)
    converted, app_dir = _workspace(tmp_path / "converted", "cli", {}, seeded)
    apply_json(legacy, "cli")
    conversion = convert_init_sh(script, "cli", app_dir=app_dir)
    assert to_do(conversion) == []
    write_conversion(app_dir, conversion)
    (app_dir.parent / "README.md").write_text("# cli\n")
    cli("check", "-C", str(converted), "cli")
    cli("lock", "-C", str(converted), "cli")
    assert "tag: v0.9.0" in (converted / "apps.lock").read_text()
    (root / "repos/acme/cli/releases").write_bytes(RELEASES_JSON.replace(b"v0.9.0", b"v0.9.1"))
    apply_json(converted, "cli", "--frozen")  # pinned: the list is not read again
    for arch in ("amd64", "arm64"):
        files = _content(converted, "cli", arch, tmp_path)
        assert files == _content(legacy, "cli", arch, tmp_path) == {"opt/cli": b"#!/bin/sh\necho 0.9.0\n"}


@pytest.mark.slow
def test_a_directory_s_entries_moved_out_of_an_archive_and_a_makefile_read_before_removal_build_as_the_script(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    """milvus-operator's shape: `mv src/config/samples/* manifests/` (hidden entries stay behind),
    tags read out of the source archive's Makefile for an image list written before `rm -rf src`."""
    from conftest import tgz

    url, root = static_server
    plain = VERSION.lstrip("v")
    (root / "op").mkdir()
    (root / f"op/{VERSION}.tar.gz").write_bytes(tgz({
        f"op-{plain}/config/samples/db.yaml": b"kind: ConfigMap\nmetadata:\n  name: db\n",
        f"op-{plain}/config/samples/sub/cache.yaml": b"kind: ConfigMap\nmetadata:\n  name: cache\n",
        f"op-{plain}/config/samples/.hidden.yaml": b"kind: Secret\n",
        f"op-{plain}/Makefile": b"deps:\n\tdocker pull -q example/sidecar:1.2.3\n"
                                 b"\tdocker pull -q example/web:1\n"},
        executables=()))
    script = HEADER + (
        "mkdir -p manifests images/shim\n"
        f'wget -qO- "{url}/op/${{VERSION}}.tar.gz" | tar -zx\n'
        'mv "op-${VERSION#v}"/config/samples/* manifests/\n'
        "makefile=op-${VERSION#v}/Makefile\n"
        "sidecar=$(cat $makefile | grep 'docker pull -q example/sidecar:' | awk -F: '{print $2}')\n"
        "web=$(cat $makefile | grep 'docker pull -q example/web:' | awk -F: '{print $2}')\n"
        f"cat > images/shim/images.txt <<EOF\n{seeded}/seed/sidecar:${{sidecar}}\n"
        f"{seeded}/seed/web:${{web}}\nEOF\n"
        'rm -rf "op-${VERSION#v}"\n')
    legacy, _ = _workspace(tmp_path / "legacy", "op", {"init.sh": script}, seeded)
    converted, app_dir = _workspace(tmp_path / "converted", "op", {}, seeded)
    apply_json(legacy, "op")
    conversion = convert_init_sh(script, "op", app_dir=app_dir)
    assert to_do(conversion) == []
    assert sorted(conversion.spec["releases"]) == ["sidecar", "web"]
    assert conversion.spec["inputs"][0] == {
        "kind": "archive", "url": f"{url}/op/{{{{ version }}}}.tar.gz",
        "path": "op-{{ version | strip_v }}/config/samples",
        "dest": "manifests", "exclude": [".*", ".*/*"]}
    write_conversion(app_dir, conversion)
    (app_dir.parent / "README.md").write_text("# op\n")
    cli("check", "-C", str(converted), "op")
    cli("lock", "-C", str(converted), "op")
    apply_json(converted, "op", "--frozen")
    for arch in ("amd64", "arm64"):
        files = _content(converted, "op", arch, tmp_path)
        assert files == _content(legacy, "op", arch, tmp_path)
        assert sorted(files) == ["manifests/db.yaml", "manifests/sub/cache.yaml"]
    assert _images(converted, "op") == _images(legacy, "op") \
        == {f"{seeded}/seed/sidecar:1.2.3", f"{seeded}/seed/web:1"}


def test_a_read_of_a_directory_moved_out_of_an_archive_is_read_at_its_archive_path_when_locked() -> None:
    conversion = convert("""
wget -qO- https://example.com/src-${VERSION}.tar.gz | tar -zx
mv src-${VERSION#v} manifests/src
tag=$(yq .image.tag manifests/src/values.yaml)
wget -q https://example.com/$tag/tool -O opt/tool
echo "docker.io/x/y:$tag" > images/shim/list
""")  # the image list reads the shipped file when scanned; the download needs the value when locked
    assert to_do(conversion) == []
    assert conversion.spec["images"]["read"] == {"tag": {"file": "manifests/src/values.yaml",
                                                         "yq": ".image.tag"}}
    assert conversion.spec["releases"] == {"tag": {"url": "https://example.com/src-{{ version }}.tar.gz",
                                                   "file": "src-{{ version | strip_v }}/values.yaml",
                                                   "yq": ".image.tag"}}
    pull = "helm pull oci://ghcr.io/x/gateway-helm --version 1.0.0 -d charts/ --untar\n"
    moved = convert(pull + "mv charts/gateway-helm/crds/* manifests/\n")
    assert to_do(moved) == [
        "init.sh:8 mv charts/gateway-helm/crds/* manifests/: not convertible (moves charts/gateway-helm/crds "
        "out of chart gateway-helm, which a chart input places only whole: copy it (cp -r), or keep the "
        "files in the app dir)"]
    removed = convert(pull + "cp -r charts/gateway-helm/crds manifests/\nrm -rf charts/gateway-helm\n")
    assert removed.spec["inputs"][1] == {"kind": "copy", "src": "charts/gateway-helm/crds",
                                         "dest": "manifests/crds"}
    assert [line.split(": not convertible ")[1] for line in to_do(removed)] == [
        "(removes chart gateway-helm after files are copied out of it (a copy input copies them in each "
        "build): keep the copies in the app dir)"]


@pytest.mark.slow
def test_files_copied_out_of_a_pulled_chart_are_a_copy_input_built_as_the_script_does(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    """enovy-gateway's shape: `cp -rf charts/gateway-helm/crds/* manifests/`. The legacy script
    has `wget | tar -zx -C charts` where the imported one has `helm fetch --untar -d charts`."""
    url, root = static_server
    (root / "web-1.0.0.tgz").write_bytes(_chart("web", "1.0.0", {"pod.yaml": (
        f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - image: {seeded}/seed/web:1\n").encode()}))
    with tarfile.open(root / "web-1.0.0.tgz") as tar:  # add crds/ (and a hidden file cp's * leaves)
        members = [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar]  # type: ignore[union-attr]
    with tarfile.open(root / "web-1.0.0.tgz", "w:gz") as tar:
        for member, data in members:
            tar.addfile(member, io.BytesIO(data))
        for name, data in (("web/crds/widget.yaml", b"kind: CustomResourceDefinition\n"),
                           ("web/crds/.hidden", b"x\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    fetch = f"mkdir -p charts manifests\n{{}} {url}/web-1.0.0.tgz{{}}\ncp -rf charts/web/crds/* manifests/\n"
    legacy_script = HEADER + fetch.format("wget -qO-", " | tar -zx -C charts")
    script = HEADER + fetch.format("helm fetch -d charts --untar", "")
    legacy, _ = _workspace(tmp_path / "legacy", "web", {"init.sh": legacy_script}, seeded)
    converted, app_dir = _workspace(tmp_path / "converted", "web", {}, seeded)
    apply_json(legacy, "web")
    conversion = convert_init_sh(script, "web", app_dir=app_dir)
    assert to_do(conversion) == []
    assert conversion.spec["inputs"][1] == {"kind": "copy", "src": "charts/web/crds", "dest": "manifests",
                                            "contents": True}
    write_conversion(app_dir, conversion)
    (app_dir.parent / "README.md").write_text("# web\n")
    cli("check", "-C", str(converted), "web")
    cli("lock", "-C", str(converted), "web")
    apply_json(converted, "web", "--frozen")
    for arch in ("amd64", "arm64"):
        files = _content(converted, "web", arch, tmp_path)
        assert files == _content(legacy, "web", arch, tmp_path)
        assert files["manifests/widget.yaml"] == b"kind: CustomResourceDefinition\n"
        assert "manifests/.hidden" not in files and "charts/web/crds/.hidden" in files
    assert _images(converted, "web") == _images(legacy, "web") == {f"{seeded}/seed/web:1"}


def test_an_image_naming_releases_not_locked_yet_passes_the_offline_check(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")  # the importer names releases after shell variables
    app = ws / "applications/shop/latest"
    app.mkdir(parents=True)
    (app.parent / "README.md").write_text("# shop\n")
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\n")
    (app / "clusterbuild.yaml").write_text(
        "releases:\n  GrafanaImage: {url: https://example.com/x.tgz, file: '*/a', yq: .a}\n"
        "  Tag_2: {github: a/b}\n"
        "images:\n  extra: ['ghcr.io/x/{{ releases.GrafanaImage }}:{{ releases.Tag_2 }}']\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  shop:\n    versions: [v1]\n")
    cli("check", "-C", str(ws), "shop")  # ghcr.io/x/unlocked-grafanaimage:unlocked-tag-2
