"""The importer's newer shapes, one at a time: files the script writes (heredoc Kubefiles with
the script's variables as build args), ``sed -i``/``yq -i`` as declared edits of downloads (and
edits made at import on files it writes or that are committed), archive directories, and
``rm -rf dir`` before a download into it as ``replace: true``. The sed engine against GNU sed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from test_import import seeded  # noqa: F401

from clusterbuild.fetch.edits import edit_text
from clusterbuild.fetch.sed import UnsupportedSed, parse_sed
from clusterbuild.importer import Conversion, convert_init_sh, write_conversion
from clusterbuild.schema.models import AppSpec

HEADER = """#!/usr/bin/env bash
set -e
cd "$(dirname "${BASH_SOURCE[0]}")" >/dev/null 2>&1
export readonly ARCH=${1:-amd64}
export readonly NAME=${2:-$(basename "${PWD%/*}")}
export readonly VERSION=${3:-$(basename "$PWD")}
"""
RELEASE = "https://github.com/org/shop/releases/download/${VERSION}"


def convert(body: str, app_dir: Path | None = None) -> Conversion:
    conversion = convert_init_sh(HEADER + body, "shop", app_dir=app_dir)
    AppSpec.model_validate(conversion.spec)
    assert yaml.safe_load(conversion.yaml_text) == conversion.spec
    return conversion


def to_do(conversion: Conversion) -> list[str]:
    return [line for line in conversion.skipped if ": not needed (" not in line]


SED_CASES = [
    ("s#type: ClusterIP#type: NodePort#g", False, "spec:\n  type: ClusterIP\n  x: type: ClusterIP\n"),
    (r"s/@sha256:[a-f0-9]\{64\}//g", False, "image: x:1@sha256:" + "a" * 64 + "\n"),
    ('/^POD_CIDR.*/c POD_CIDR=${POD_CIDR:-"100.64.0.0/10"}', False, "A=1\nPOD_CIDR=1\nB=2\n"),
    ("/^set -euo pipefail$/a source scripts/kube-ovn.env", False, "set -euo pipefail\necho hi\n"),
    ("s#useDigest: true#useDigest: false#g;/sidecarImageRegex/d", False,
     "useDigest: true\nsidecarImageRegex: x\nkeep\n"),
    ("s#- cilium-operator-.+#- cilium-operator#g", True, "  - cilium-operator-generic\n  - a+\n"),
    (r"s/\(a\)\(b\)/\2\1&/", False, "ab ab\n"),
    ("/^$/d", False, "a\n\nb\n\n"),
    ('s/"//g', False, '"a" "b"\n'),
    (r"s/^\s*replicas: [[:digit:]]\+/replicas: 3/", False, "  replicas: 12\n"),
    ("/^\\s*volumes/a\\      - name: x\\n        path: /opt", False, "spec:\n  volumes:\n  - a\n"),
]


@pytest.mark.parametrize(("script", "extended", "text"), SED_CASES)
def test_the_sed_subset_does_what_gnu_sed_does(script: str, extended: bool, text: str) -> None:
    args = ["sed", *(["-E"] if extended else []), script]
    expected = subprocess.run(args, input=text, capture_output=True, text=True, check=True).stdout
    assert parse_sed(script, extended).apply(text) == expected


@pytest.mark.parametrize("script", ["y/abc/xyz/", "/x/{n;s/a/b/}", "s/a/b/2", "/x/r other.txt", "s/a/b"])
def test_sed_beyond_the_subset_is_refused_with_the_reason(script: str) -> None:
    with pytest.raises(UnsupportedSed):
        parse_sed(script)


def test_yq_edits_every_document_of_a_manifest() -> None:
    text = "kind: Service\nspec:\n  type: ClusterIP\n---\nkind: Deployment\nspec: {}\n"
    edited = list(yaml.safe_load_all(edit_text(text, "yq", '.spec.type = "NodePort" | del(.kind)')))
    assert edited == [{"spec": {"type": "NodePort"}}, {"spec": {"type": "NodePort"}}]


def test_a_heredoc_kubefile_keeps_the_script_variables_as_build_args() -> None:
    conversion = convert(
        'cat <<EOF >"Kubefile"\nFROM scratch\nLABEL version="${VERSION}" arch=$ARCH\n'
        'ENV CHART=${VERSION#v}\nCOPY registry registry\nCMD ["bash install.sh \\$(HELM_OPTS)"]\nEOF\n'
        "cat <<'EOF' > install.sh\nhelm upgrade -i shop charts/shop ${HELM_OPTS}\nEOF\n"
        "echo 'extra: 1' >> charts/shop.values.yaml\n")
    assert to_do(conversion) == []
    assert conversion.spec["build_args"] == {"ARCH": "{{ arch }}", "VERSION": "{{ version }}",
                                             "VERSION_STRIP_V": "{{ version | strip_v }}"}
    files = {f.path: f for f in conversion.files}
    assert files["Kubefile"].content == (
        'FROM scratch\nARG ARCH\nARG VERSION\nARG VERSION_STRIP_V\nLABEL version="${VERSION}" arch=${ARCH}\n'
        'ENV CHART=${VERSION_STRIP_V}\nCOPY registry registry\nCMD ["bash install.sh $(HELM_OPTS)"]\n')
    assert files["install.sh"].content == "helm upgrade -i shop charts/shop ${HELM_OPTS}\n"
    values = files["charts/shop.values.yaml"]
    assert values.append and values.content == "extra: 1\n"
    assert "init.sh:7 cat << EOF > \"Kubefile\" -> the file Kubefile" in conversion.converted


def test_build_time_values_in_a_cmd_or_another_file_make_it_a_text_input(tmp_path: Path) -> None:
    (tmp_path / "images/shim").mkdir(parents=True)
    (tmp_path / "entrypoint.sh").write_text("VERSION=0\nhelm upgrade -i x charts/x\n")
    conversion = convert('cat <<EOF > Kubefile\nFROM scratch\nCOPY . .\n'
                         'CMD ["helm install x --version ${VERSION}"]\nEOF\n'
                         'echo "ghcr.io/org/x:$VERSION" > images/shim/x\n'
                         'sed -i "s|VERSION=.*|VERSION=$VERSION|g" entrypoint.sh\n', tmp_path)
    assert to_do(conversion) == [] and conversion.files == ()
    assert conversion.spec["inputs"] == [
        {"kind": "text", "dest": "Kubefile",
         "text": 'FROM scratch\nCOPY . .\nCMD ["helm install x --version {{ version }}"]\n'},
        {"kind": "text", "dest": "images/shim/x", "text": "ghcr.io/org/x:{{ version }}\n"},  # COPY . ships it
        {"kind": "text", "dest": "entrypoint.sh",
         "text": "VERSION={{ version }}\nhelm upgrade -i x charts/x\n"}]
    assert "images" not in conversion.spec
    unshipped = convert('cat <<EOF > Kubefile\nFROM scratch\nCOPY registry registry\nEOF\n'
                        'echo "ghcr.io/org/x:$VERSION" > images/shim/x\n')
    assert unshipped.spec["images"] == {"extra": ["ghcr.io/org/x:{{ version }}"]}
    assert [i["kind"] for i in unshipped.spec["inputs"]] == []


def test_write_conversion_writes_the_files_replacing_or_appending(tmp_path: Path) -> None:
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts/shop.values.yaml").write_text("replicas: 1\n")
    (tmp_path / "Kubefile").write_text("FROM scratch\nCOPY . .\n")
    conversion = convert("cat <<EOF > Kubefile\nFROM scratch\nCOPY charts charts\nEOF\n"
                         "echo 'extra: 1' >> charts/shop.values.yaml\n"
                         "echo x > install.sh\nchmod +x install.sh\n")
    assert to_do(conversion) == []
    write_conversion(tmp_path, conversion)
    assert (tmp_path / "install.sh").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "Kubefile").read_text() == "FROM scratch\nCOPY charts charts\n"
    assert (tmp_path / "charts/shop.values.yaml").read_text() == "replicas: 1\nextra: 1\n"
    assert (tmp_path / "install.sh").read_text() == "x\n"


def test_sed_and_yq_on_downloads_become_declared_edits() -> None:
    conversion = convert(
        "mkdir -p manifests\n"
        f"wget -q {RELEASE}/install.yaml -O manifests/install.yaml\n"
        'sed -i "s#namespace: default#namespace: shop#g;s#shop:latest#shop:${VERSION}#" '
        "manifests/install.yaml\n"
        "yq -i '.spec.type = \"NodePort\"' manifests/install.yaml\n"
        "sed -E -i 's/-v[0-9]+//' manifests/install.yaml\n")
    assert to_do(conversion) == []
    [manifest] = conversion.spec["inputs"]
    assert manifest["edits"] == [
        {"file": "manifests/install.yaml", "kind": "sed",
         "expression": "s#namespace: default#namespace: shop#g;s#shop:latest#shop:{{ version }}#"},
        {"file": "manifests/install.yaml", "kind": "yq", "expression": '.spec.type = "NodePort"'},
        {"file": "manifests/install.yaml", "kind": "sed", "expression": "s/-v[0-9]+//", "extended": True}]


def test_sed_on_a_committed_or_written_file_is_made_at_import(tmp_path: Path) -> None:
    (tmp_path / "Kubefile").write_text("FROM scratch\nCMD [\"helm upgrade -i x -n tigera-operator \"]\n")
    conversion = convert("sed -i 's~ tigera-operator ~ kube-system ~g' Kubefile\n"
                         "echo 'VERSION=0' > env.sh\nsed -i 's/VERSION=.*/VERSION=1/' env.sh\n"
                         'sed -i "s/ x / ${VERSION} /" Kubefile\n'
                         'sed -i "s/${VERSION}/y/" env.sh\n', tmp_path)
    files = {f.path: f.content for f in conversion.files}
    assert files == {"env.sh": "VERSION=1\n"}
    # its CMD names the version: a text input
    assert conversion.spec["inputs"] == [{"kind": "text", "dest": "Kubefile", "text": (
        'FROM scratch\nCMD ["helm upgrade -i {{ version }} -n kube-system "]\n')}]
    assert to_do(conversion) == ['init.sh:11 sed -i "s/${VERSION}/y/" env.sh: not convertible (edits env.sh '
                                 "matching values known only at build time (version))"]


def test_sed_beyond_the_subset_stays_to_do() -> None:
    conversion = convert(f"wget -q {RELEASE}/a.yaml -P manifests\n"
                         "sed -i '/name: x/{n;s/a/b/}' manifests/a.yaml\n")
    assert to_do(conversion) == ["init.sh:8 sed -i '/name: x/{n;s/a/b/}' manifests/a.yaml: not convertible "
                                 "(the sed command '{' is not supported (only s, d, c, a, i): keep an edited "
                                 "copy in the app dir)"]


def test_directories_of_archives_become_archive_inputs() -> None:
    source = "https://github.com/org/shop/archive/refs/tags/${VERSION}.tar.gz"
    conversion = convert(
        f'wget -qO- "{source}" | tar -zx\n'
        'mkdir -p manifests\n'
        'cp -r "shop-${VERSION#v}/deploy/addons/" manifests/\n'
        'mv "shop-${VERSION#v}/charts" .\n'
        "sed -i 's/replicas: 1/replicas: 2/' manifests/addons/web.yaml\n"
        f'wget -qO- "{RELEASE}/bundle-$ARCH.tgz" | tar -zx -C etc\n'
        "mv etc/bin/tool opt/tool\n"
        "sed -i 's/port: 80/port: 8080/' etc/conf/app.yaml\n")
    assert to_do(conversion) == []
    url = "https://github.com/org/shop/archive/refs/tags/{{ version }}.tar.gz"
    bundle = "https://github.com/org/shop/releases/download/{{ version }}/bundle-{{ arch }}.tgz"
    assert conversion.spec["inputs"] == [
        {"kind": "archive", "url": url, "path": "shop-{{ version | strip_v }}/deploy/addons",
         "dest": "manifests/addons", "edits": [{"file": "manifests/addons/web.yaml", "kind": "sed",
                                                "expression": "s/replicas: 1/replicas: 2/"}]},
        {"kind": "archive", "url": url, "path": "shop-{{ version | strip_v }}/charts", "dest": "charts"},
        {"kind": "binary", "url": bundle, "member": "bin/tool", "dest": "opt/tool"},
        {"kind": "archive", "url": bundle, "dest": "etc", "exclude": ["bin/tool"],
         "edits": [{"file": "etc/conf/app.yaml", "kind": "sed", "expression": "s/port: 80/port: 8080/"}]}]


def test_rm_rf_of_a_committed_dir_before_a_download_into_it_is_replace(tmp_path: Path) -> None:
    (tmp_path / "charts/web/templates").mkdir(parents=True)
    (tmp_path / "manifests").mkdir()
    body = ("rm -rf charts/ manifests\nhelm repo add example https://charts.example.com\n"
            "helm pull example/web --version 1.2.0 --untar -d charts/\n"
            f'wget -qO- "{RELEASE}/deploy.tgz" | tar -zx -C manifests\n')
    conversion = convert(body, tmp_path)
    # rm -rf charts removes more than charts/web; manifests is the archive's dest itself
    assert [i.get("replace") for i in conversion.spec["inputs"]] == ["charts", True]
    assert "init.sh:7 rm -rf charts/ manifests -> inputs[0] chart web (replace)" in conversion.converted
    assert to_do(conversion) == []
    (tmp_path / "opt").mkdir()
    unreplaced = convert("rm -rf opt\necho done\n", tmp_path)
    assert to_do(unreplaced) == ["init.sh:7 rm -rf opt: not convertible (removes opt/, committed in the app "
                                 "dir: delete it there)"]
    assert "replace" not in str(convert(body).spec)  # nothing committed there: nothing to replace


def test_an_edit_that_cannot_run_is_bad_input_naming_the_field(tmp_path: Path) -> None:
    from conftest import cli, copy_workspace

    ws = copy_workspace(tmp_path / "ws")
    app = ws / "applications/shop/latest"
    app.mkdir(parents=True)
    (app.parent / "README.md").write_text("# shop\n")
    (app / "Kubefile").write_text("FROM scratch\nCOPY manifests manifests\n")
    (app / "clusterbuild.yaml").write_text(
        "inputs:\n  - kind: manifest\n    url: https://example.com/a.yaml\n"
        "    edits: [{file: manifests/a.yaml, kind: sed, expression: 'y/ab/cd/'}]\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  shop:\n    versions: [v1]\n")
    proc = cli("check", "-C", str(ws), "shop", check=False)
    assert proc.returncode == 3
    assert "inputs[0].edits[0]" in proc.stderr and "the sed command 'y' is not supported" in proc.stderr


def test_a_chart_rendered_only_for_the_image_scan_is_an_image_profile(tmp_path: Path) -> None:
    pull = ("helm repo add example https://charts.example.com\n"
            "helm pull example/web --version 1.2.0 --untar -d charts/\nmkdir -p manifests images/shim\n")
    conversion = convert(pull + (
        "helm template web charts/web -n web --set a.enabled=true,b.port=80 --set-string c=1 --debug"
        " > manifests/web.yaml\n"
        "helm template web charts/web -f charts/web/values.yaml | grep image: | awk '{print $2}'"
        " > images/shim/webImages\n"
        "cat <<EOF > Kubefile\nFROM scratch\nCOPY charts charts\nCOPY registry registry\nEOF\n"))
    assert to_do(conversion) == []
    assert conversion.spec["images"] == {"profiles": {"rendered-line-10": {
        "a": {"enabled": True}, "b": {"port": 80}, "c": "1"}}}
    assert any("not needed (renders a chart with its defaults" in line for line in conversion.skipped)
    (tmp_path / "Kubefile").write_text("FROM scratch\nCOPY . .\n")
    shipped = convert(pull + "helm template web charts/web --set a=1 > manifests/web.yaml\n", tmp_path)
    assert to_do(shipped) == []  # the image holds the file: rendered in each build (test_render_inputs)
    assert shipped.spec["inputs"][1] == {"kind": "render", "chart": "charts/web", "release": "web",
                                         "set": ["a=1"], "dest": "manifests/web.yaml"}
    crds = convert(pull + "helm template web charts/web --include-crds > manifests/web.yaml\n", tmp_path)
    assert to_do(crds) == ["init.sh:10 helm template web charts/web --include-crds > manifests/web.yaml: not "
                           "convertible (renders a chart with --include-crds, which a render input does not "
                           "take: keep the rendered file)"]


def test_an_image_list_named_by_a_variable_is_read_as_one() -> None:
    conversion = convert("helm repo add example https://charts.example.com\n"
                         "helm pull example/web --version 1.2.0 --untar -d charts/\nIMAGES_DIR=images/shim\n"
                         "helm template charts/web/ --set a.enabled=true | grep image: | awk '{print $2}' | "
                         "sort -u > ${IMAGES_DIR}/images.txt\n"
                         "cat charts/web/values.yaml | grep tag: | awk '{print $2}' > $IMAGES_DIR/tags\n")
    assert to_do(conversion) == []
    assert conversion.spec["images"]["profiles"] == {"rendered-line-10": {"a": {"enabled": True}}}
    assert conversion.spec["images"]["read"] == {"tags": {"file": "charts/web/values.yaml",
                                                          "run": "grep tag: | awk '{print $2}'"}}


def test_a_render_of_a_chart_outside_charts_is_a_render_input_or_to_do_as_the_scan_does_not_render_it(
        ) -> None:
    conversion = convert("helm repo add example https://charts.example.com\n"
                         "helm pull example/web --version 1.2.0 --untar -d chart\nmkdir -p manifests\n"
                         "helm template web chart/web > manifests/web.yaml\n"
                         "helm template chart/web | grep image: | awk '{print $2}' > images/shim/web\n"
                         "helm template web example/web --set a=1 > manifests/repo.yaml\n"
                         "cat <<EOF > Kubefile\nFROM scratch\nCOPY chart charts\nCOPY registry registry\n"
                         "EOF\n")
    why = ", a chart the image scan does not render (it renders those of charts/): list its images in " \
        "images.extra)"
    assert to_do(conversion) == [  # line 10 renders a chart the context holds: a render input
        "init.sh:11 helm template chart/web | grep image: | awk '{print $2}' > images/shim/web: not "
        f"convertible (renders chart/web{why}",
        "init.sh:12 helm template web example/web --set a=1 > manifests/repo.yaml: not convertible (renders "
        f"example/web{why}"]
    assert "images" not in conversion.spec
    assert conversion.spec["inputs"][1] == {"kind": "render", "chart": "chart/web", "release": "web",
                                            "dest": "manifests/web.yaml"}


def test_a_chart_pulled_into_another_directory_keeps_it() -> None:
    conversion = convert("helm repo add example https://charts.example.com\n"
                         "helm pull example/web --version 1.2.0 --untar -d chart\n"
                         "yq -i '.replicas = 2' chart/web/values.yaml\n")
    assert to_do(conversion) == []
    assert conversion.spec["inputs"] == [{
        "kind": "chart", "name": "web", "repo": "https://charts.example.com", "version": "1.2.0",
        "dir": "chart", "values": {"set": {"replicas": 2}}}]


def test_check_sees_a_chart_in_its_dir_and_a_text_kubefile(tmp_path: Path) -> None:
    from conftest import cli, copy_workspace

    ws = copy_workspace(tmp_path / "ws")
    app = ws / "applications/shop/latest"
    app.mkdir(parents=True)
    (app.parent / "README.md").write_text("# shop\n")
    (app / "clusterbuild.yaml").write_text(
        "inputs:\n  - {kind: chart, name: web, repo: 'https://charts.example.com', dir: chart}\n"
        "  - kind: text\n    dest: Kubefile\n"
        "    text: \"FROM scratch\\nCOPY chart chart\\n"
        "CMD [\\\"helm install web chart/web --version {{ version }}\\\"]\\n\"\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  shop:\n    versions: [v1]\n")
    assert cli("check", "-C", str(ws), "shop").returncode == 0
    spec = app / "clusterbuild.yaml"
    spec.write_text(spec.read_text().replace("dir: chart", "dir: x"))
    proc = cli("check", "-C", str(ws), "shop", check=False)
    assert proc.returncode == 3 and "'chart' not found in the build context" in proc.stderr


def test_loops_over_known_items_are_read_once_per_item() -> None:
    conversion = convert(
        'repo_url="https://github.com/org/charts/releases/download"\n'
        'charts=( "web" "api")\n'
        'for chart in "${charts[@]}"; do\n'
        '  if [[ "$chart" == "web" ]]; then\n'
        '    helm fetch -d charts --untar '
        '"$repo_url"/"${chart}"-"${VERSION#v}"/"${chart}"-"${VERSION#v}".tgz\n'
        "  else\n"
        f'    wget -q {RELEASE}/$chart.yaml -P manifests\n'
        "  fi\n"
        "done\n"
        "for addon in logging metrics; do\n"
        "  wget -q https://example.com/addons/${addon}.yaml -P manifests\ndone\n")
    assert to_do(conversion) == []
    assert conversion.spec["inputs"] == [
        {"kind": "chart", "name": "web", "url": "https://github.com/org/charts/releases/download/"
         "web-{{ version | strip_v }}/web-{{ version | strip_v }}.tgz"},
        {"kind": "manifest", "url": "https://github.com/org/shop/releases/download/{{ version }}/api.yaml"},
        {"kind": "manifest", "url": "https://example.com/addons/logging.yaml"},
        {"kind": "manifest", "url": "https://example.com/addons/metrics.yaml"}]


def test_a_render_with_build_time_values_of_a_chart_copied_into_charts_is_a_templated_profile(
        tmp_path: Path) -> None:
    (tmp_path / "web/templates").mkdir(parents=True)
    (tmp_path / "web/Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 1.0.0\n")
    conversion = convert(
        "mkdir -p charts manifests\n"
        'helm template x web --set image.tag="${VERSION#v}",image.arch=$ARCH > manifests/web.yaml\n'
        "cp -rf web charts/\n", tmp_path)
    assert to_do(conversion) == []
    assert conversion.spec["images"]["profiles"] == {"rendered-line-8": {
        "image": {"tag": "{{ version | strip_v }}", "arch": "{{ arch }}"}}}
    keyed = convert('mkdir -p charts\nhelm template x web --set "$ARCH.tag=1" > manifests/web.yaml\n'
                    "cp -rf web charts/\n", tmp_path)
    assert [line.split(": not convertible ")[1] for line in to_do(keyed)] == [
        "(renders a chart with values known only at build time outside a value: write them in an "
        "image profile by hand)"]


@pytest.mark.slow
def test_a_templated_profile_value_is_rendered_per_version_for_the_scan(
        tmp_path: Path, seeded: str) -> None:  # noqa: F811
    from test_import import VERSION, _images, _workspace

    from conftest import cli

    template = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
                f"    spec:\n      containers:\n        - image: {seeded}/seed/web:1\n"
                "{{- if .Values.extra.tag }}\n"
                f"        - image: {seeded}/seed/sidecar:{{{{ .Values.extra.tag }}}}\n"
                "{{- end }}\n")
    ws, app_dir = _workspace(tmp_path, "web", {}, seeded)
    (app_dir / "charts/web/templates").mkdir(parents=True)
    (app_dir / "charts/web/Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 1.0.0\n")
    (app_dir / "charts/web/values.yaml").write_text("extra:\n  tag: ''\n")
    (app_dir / "charts/web/templates/web.yaml").write_text(template)
    (app_dir.parent / "README.md").write_text("# web\n")
    (app_dir / "clusterbuild.yaml").write_text(
        "images:\n  profiles:\n    sidecar:\n      extra:\n        tag: '{{ version | strip_v }}'\n")
    cli("lock", "-C", str(ws), "web")
    assert VERSION == "v1.2.3"
    assert _images(ws, "web") == {f"{seeded}/seed/web:1", f"{seeded}/seed/sidecar:1.2.3"}


def test_commands_with_no_conversion_say_what_to_do_instead() -> None:
    conversion = convert(
        "docker run --rm ghcr.io/x/y:1 manifest pod > manifests/pod.yaml\n"
        "kubectl kustomize manifests/ > manifests/all.yaml\n"
        "GOARCH=${ARCH} make build-bin\n"
        "bash -e charts.sh a b\n")
    reasons = [line.split(": not convertible (", 1)[1] for line in to_do(conversion)]
    assert reasons == [
        "runs docker run: what a container prints or leaves is known only when it runs; keep the file "
        "it makes in the app dir)",
        "renders a kustomization: keep the rendered file in the app dir, or apply it with kubectl -k)",
        "runs make, a build from source: download a released file instead, or keep the result in the "
        "app dir)",
        "runs another script (charts.sh): convert what it does into this spec, or keep what it leaves in the "
        "app dir)"]


@pytest.mark.slow
def test_a_list_of_words_echoed_one_per_line_then_edited_at_its_version_builds_as_the_script(
        tmp_path: Path, seeded: str) -> None:  # noqa: F811
    """rainbond's shape: `echo -e $IMAGE_LIST | tr ' ' '\\n' > images/shim/list` of a list written
    over several lines, then `sed -i "s#extra:${V}#extra:1#g"` of the list."""
    from test_import import HEADER, _images, _workspace

    from conftest import apply_json, cli

    script = HEADER + (
        "mkdir -p images/shim\nRELEASE=${VERSION}-release\n"
        f'IMAGE_LIST="{seeded}/seed/web:1\n    {seeded}/seed/extra:${{RELEASE}}\n'
        f'    {seeded}/seed/sidecar:1.2.3"\n'
        "echo -e $IMAGE_LIST | tr ' ' '\\n' > images/shim/list\n"
        'sed -i "s#extra:${RELEASE}#extra:1#g" images/shim/list\n')
    legacy, _ = _workspace(tmp_path / "legacy", "shop", {"init.sh": script}, seeded)
    converted, app_dir = _workspace(tmp_path / "converted", "shop", {}, seeded)
    apply_json(legacy, "shop")
    conversion = convert_init_sh(script, "shop", app_dir=app_dir)
    assert to_do(conversion) == []
    want = [f"{seeded}/seed/web:1", f"{seeded}/seed/extra:1", f"{seeded}/seed/sidecar:1.2.3"]
    kept = [(f.path, f.content) for f in conversion.files]  # the image ships it (COPY . .): a file
    assert kept == [("images/shim/list", "".join(f"{w}\n" for w in want))]
    write_conversion(app_dir, conversion)
    (app_dir.parent / "README.md").write_text("# shop\n")
    cli("check", "-C", str(converted), "shop")
    apply_json(converted, "shop")
    assert _images(converted, "shop") == _images(legacy, "shop") == set(want)


def test_a_sed_pattern_names_a_build_time_value_only_where_the_text_holds_it_as_is() -> None:
    head = "mkdir -p images/shim\nLIST=\"a:${VERSION} b:${VERSION}x\"\n" \
        "echo $LIST | tr ' ' '\\n' > images/shim/l\n"
    exact = convert(head + 'sed -i "s#a:${VERSION}#a:latest#" images/shim/l\n')
    assert exact.spec["images"]["extra"] == ["a:latest", "b:{{ version }}x"]
    for sed in ('sed -i "s#a:${VERSION}*#a#" images/shim/l',  # a quantifier on the value's last character
                'sed -i "s#c:${ARCH}#c#" images/shim/l'):  # a value the text does not hold
        refused = to_do(convert(head + sed))
        assert any("matching values known only at build time" in line for line in refused), sed
