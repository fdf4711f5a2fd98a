"""Converting catalogue init.sh scripts into clusterbuild.yaml, and building both the same.

Unit tests give a script and expect an exact spec (valid for ``AppSpec``) and report. End to
end, an app of the catalogue's style is built twice against servers on 127.0.0.1 (files over
HTTP, a docker-registry for the images it ships): as is, by its init.sh, and converted, by
``clusterbuild lock`` + ``apply``; both images must hold the same charts/, manifests/ and opt/
files per platform and ship the same images. ``helm`` is not installed here, so the chart
app is compared with the chart archive the script would have pulled.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from clusterbuild.errors import InputError
from clusterbuild.importer import Conversion, convert_init_sh, write_conversion
from clusterbuild.schema.models import AppSpec

from conftest import apply_json, cli, copy_workspace, tgz

DATA = Path(__file__).parent / "data" / "import"
VERSION = "v1.2.3"
HEADER = """#!/usr/bin/env bash
set -e
cd "$(dirname "${BASH_SOURCE[0]}")" >/dev/null 2>&1
export readonly ARCH=${1:-amd64}
export readonly NAME=${2:-$(basename "${PWD%/*}")}
export readonly VERSION=${3:-$(basename "$PWD")}
"""


def checked(conversion: Conversion) -> Conversion:
    """The conversion, once its spec is valid and its YAML says the same."""
    AppSpec.model_validate(conversion.spec)
    assert yaml.safe_load(conversion.yaml_text) == conversion.spec
    return conversion


def convert(body: str, app: str = "demo") -> Conversion:
    """Convert a script made of the catalogue's usual header and ``body`` (which starts on line 7)."""
    return checked(convert_init_sh(HEADER + body, app))


def to_do(conversion: Conversion) -> list[str]:
    """The skipped lines that need a hand (not the checks, messages and cleanup)."""
    return [line for line in conversion.skipped if ": not needed (" not in line]


def data_script(name: str, url: str = "https://example.com", registry: str = "registry.example.com") -> str:
    """A script of tests/data/import with its server and registry filled in."""
    return (DATA / name).read_text().replace("@URL@", url).replace("@REGISTRY@", registry)


# -- unit: one shape at a time ------------------------------------------------------------------

def test_a_repo_chart_by_app_version_with_values_edits_and_extra_images() -> None:
    conversion = checked(convert_init_sh(data_script("chart.init.sh"), "web"))
    assert conversion.spec == {
        "inputs": [{"kind": "chart", "name": "web", "repo": "https://example.com/charts",
                    "app_version": "{{ version }}",
                    "values": {"set": {"image.digest": None}, "delete": ["debug"]}}],
        "images": {"extra": ["registry.example.com/seed/extra:1"]},
    }
    assert [line.split(" -> ")[1] for line in conversion.converted] == [
        "inputs[0] chart web (repo)", "inputs[0] chart web (app_version)", "inputs[0] chart web",
        "inputs[0] chart web (values.set image.digest)", "inputs[0] chart web (values.delete debug)",
        "images.extra registry.example.com/seed/extra:1"]
    assert conversion.converted[2].startswith("init.sh:27 helm pull ${repo_name} --version=${chart_version}")
    assert to_do(conversion) == []
    assert "init.sh:18 if ! echo \"$all_versions\" | grep -qw \"${VERSION}\": not needed (a check that " \
        "stops the script)" in conversion.skipped


def test_charts_by_chart_version_from_the_version_or_literal_and_from_oci() -> None:
    conversion = convert("""
helm repo add bitnami https://charts.bitnami.com/bitnami
helm pull bitnami/redis --version=${VERSION#v} -d charts/ --untar
helm pull --repo https://charts.example.com/ api --version 1.2.0 --untar --untardir charts
helm pull oci://docker.io/envoyproxy/gateway-helm --version "${VERSION}" -d charts/ --untar
chart_version=`echo ${VERSION} | sed 's/^v//'`
helm fetch bitnami/redis-cluster --version=${chart_version} --untar -d ./charts
""")
    assert conversion.spec == {"inputs": [
        {"kind": "chart", "name": "redis", "repo": "https://charts.bitnami.com/bitnami",
         "version": "{{ version | strip_v }}"},
        {"kind": "chart", "name": "api", "repo": "https://charts.example.com/", "version": "1.2.0"},
        {"kind": "chart", "name": "gateway-helm", "oci": "oci://docker.io/envoyproxy/gateway-helm",
         "version": "{{ version }}"},
        {"kind": "chart", "name": "redis-cluster", "repo": "https://charts.bitnami.com/bitnami",
         "version": "{{ version | strip_v }}"},
    ]}
    assert to_do(conversion) == []


def test_the_two_step_app_version_idiom_and_a_chart_from_a_source_archive() -> None:
    conversion = convert("""
HELM_REPO_NAME="ob-operator/oceanbase-dashboard"
helm repo add "${HELM_REPO_NAME%/*}" "https://oceanbase.github.io/ob-operator/" --force-update 1>/dev/null
APP_VERSION_LIST=$(helm search repo --versions --regexp "\\v${HELM_REPO_NAME}\\v")
HELM_CHART_VERSION=$(echo "${APP_VERSION_LIST}" | grep "${VERSION}" | awk '{print $2}' | sort -rn | head -n1)
helm pull "${HELM_REPO_NAME}" --version="${HELM_CHART_VERSION}" -d charts --untar
wget -qO- https://github.com/rancher/lpp/archive/refs/tags/${VERSION}.tar.gz | tar xz
cp -r lpp-${VERSION#v}/deploy/chart/lpp charts
""", "oceanbase-dashboard")
    assert conversion.spec == {"inputs": [
        {"kind": "chart", "name": "oceanbase-dashboard", "repo": "https://oceanbase.github.io/ob-operator/",
         "app_version": "{{ version }}"},
        {"kind": "chart", "name": "lpp",
         "url": "https://github.com/rancher/lpp/archive/refs/tags/{{ version }}.tar.gz",
         "path": "lpp-{{ version | strip_v }}/deploy/chart/lpp"},
    ]}


def test_raw_manifests_by_wget_and_curl_and_image_lists() -> None:
    conversion = checked(convert_init_sh(data_script("manifests.init.sh"), "demo"))
    base = "https://example.com/demo"
    assert conversion.spec == {
        "inputs": [
            {"kind": "manifest", "url": f"{base}/releases/download/{{{{ version }}}}/install.yaml"},
            {"kind": "manifest", "url": f"{base}/raw/{{{{ version | strip_v }}}}/deploy/crds.yaml"},
            {"kind": "manifest", "url": f"{base}/raw/main/extra/config.yaml"},
            {"kind": "manifest", "url": f"{base}/releases/download/{{{{ version }}}}/rbac.yaml"},
        ],
        "images": {"extra": ["registry.example.com/seed/extra:1",
                             "registry.example.com/seed/sidecar:{{ version | strip_v }}"]},
    }
    assert to_do(conversion) == []
    assert len(conversion.converted) == 6
    renamed = convert("curl -sL -o manifests/app/deploy.yaml https://example.com/v1/install.yaml\n"
                      "wget https://example.com/cfg.yaml -O manifests/cfg.yaml\n")
    assert renamed.spec["inputs"] == [
        {"kind": "manifest", "url": "https://example.com/v1/install.yaml",
         "dest": "manifests/app/deploy.yaml"},
        {"kind": "manifest", "url": "https://example.com/cfg.yaml"}]


def test_per_arch_binaries_from_tarballs_bare_files_and_gz_with_an_arch_map() -> None:
    conversion = checked(convert_init_sh(data_script("binaries.init.sh"), "tools"))
    url = "https://example.com"
    assert conversion.spec == {"inputs": [
        {"kind": "binary", "url": f"{url}/tool/{{{{ version }}}}/tool-{{{{ version | strip_v }}}}-linux-"
         "{{ arch_name }}.tar.gz", "arch_map": {"amd64": "x86_64", "arm64": "aarch64"},
         "member": "tool-{{ version | strip_v }}-linux-{{ arch_name }}/tool", "dest": "opt/tool"},
        {"kind": "binary", "url": f"{url}/ctl/ctl-linux-{{{{ arch }}}}.tar.gz", "member": "ctl",
         "dest": "opt/ctl"},
        {"kind": "binary", "url": f"{url}/helper/{{{{ version }}}}/helper-linux-{{{{ arch }}}}",
         "dest": "opt/helper"},
        {"kind": "binary", "url": f"{url}/agent/agent-linux-{{{{ arch }}}}.gz", "dest": "opt/agent"},
    ]}
    assert to_do(conversion) == []
    tool = [line for line in conversion.converted if "inputs[0]" in line]
    assert [line.split(" ", 1)[0] for line in tool] == ["init.sh:11", "init.sh:25", "init.sh:26",
                                                        "init.sh:27", "init.sh:33"]


@pytest.mark.parametrize("mapping", [
    'if [ "$ARCH" = "amd64" ]; then\n  arch=x86_64\nelse\n  arch=aarch64\nfi\n',
    'arch=$(echo $ARCH | sed "s/amd64/x86_64/;s/arm64/aarch64/")\n',
    'case ${1:-amd64} in\narm64)\n  readonly arch="aarch64"\n  ;;\n'
    'amd64|x86_64)\n  readonly arch="x86_64"\n  ;;\nesac\n',
])
def test_arch_maps_from_if_sed_and_case(mapping: str) -> None:
    conversion = convert(mapping + "mkdir -p opt\n"
                         "wget https://example.com/k-$VERSION-$arch.tar.gz\ntar xzf k-$VERSION-$arch.tar.gz\n"
                         "chmod a+x ./k\nmv ./k opt/\n")
    assert conversion.spec["inputs"] == [
        {"kind": "binary", "url": "https://example.com/k-{{ version }}-{{ arch_name }}.tar.gz",
         "arch_map": {"amd64": "x86_64", "arm64": "aarch64"}, "member": "k", "dest": "opt/k"}]
    assert to_do(conversion) == []


def test_a_file_of_a_whole_archive_and_a_file_for_every_arch() -> None:
    conversion = convert("""
wget -qO- "https://example.com/k9s_Linux_${ARCH}.tar.gz" | tar -xz -C opt
chmod a+x opt/k9s
wget https://example.com/kubectl-linux-amd64 -O opt/kubectl
wget -q https://example.com/scripts/install.sh -P scripts
""")
    assert conversion.spec["inputs"] == [
        {"kind": "binary", "url": "https://example.com/k9s_Linux_{{ arch }}.tar.gz", "member": "k9s",
         "dest": "opt/k9s"},
        {"kind": "archive", "url": "https://example.com/k9s_Linux_{{ arch }}.tar.gz", "dest": "opt",
         "exclude": ["k9s"]},  # the rest of the archive stays in opt/, as the script leaves it
        {"kind": "url", "url": "https://example.com/kubectl-linux-amd64", "dest": "opt/kubectl"},
        {"kind": "url", "url": "https://example.com/scripts/install.sh", "dest": "scripts/install.sh"}]
    assert to_do(conversion) == []


def test_uncommon_shapes_are_listed_with_their_line_and_reason() -> None:
    conversion = checked(convert_init_sh((DATA / "uncommon.init.sh").read_text(), "api"))
    assert conversion.spec == {"releases": {"cli": {"github": "example/cli"}}, "inputs": [  # curl | jq
        {"kind": "chart", "name": "web", "repo": "https://charts.example.com"},  # the highest, when locked
        {"kind": "chart", "name": "api", "repo": "https://charts.example.com", "version": "1.2.0",
         "edits": [{"file": "charts/api/templates/deployment.yaml", "kind": "sed",
                    "expression": "s/replicas: 1/replicas: 3/"}]},
        {"kind": "binary", "url": "https://github.com/example/cli/releases/download/{{ releases.cli }}/"
         "cli-linux-{{ arch }}", "dest": "opt/cli"},
        {"kind": "archive", "url": "https://example.com/tools-{{ arch }}.tar.gz", "dest": "opt"}]}
    assert [(f.path, f.content) for f in conversion.files] == [
        ("Kubefile", 'FROM scratch\nCOPY charts charts\nCMD ["helm upgrade -i api charts/api"]\n')]
    assert to_do(conversion) == [
        "init.sh:11 git clone --depth 1 https://github.com/example/addons.git: not convertible (leaves the "
        "clone in addons, .git included, which GitHub's source archive lacks: copy what it needs out of it, "
        "then remove it)",
        "init.sh:12-14 for addon in $(ls addons): not convertible (a loop: write one input per item)",
        "init.sh:17 yq -i '.replicas += 1' charts/api/values.yaml: not convertible ('.replicas += 1' is not "
        "`.path = value` or `del(.path)`)",
    ]
    assert any(line.startswith("init.sh:15 wget -q https://github.com/example/cli/") and
               line.endswith("-> inputs[2] binary opt/cli") for line in conversion.converted)
    header = conversion.yaml_text.split("inputs:")[0]
    assert "# Not converted (3), to do by hand:" in header and "#   line 11 git clone" in header
    assert "# Files the script writes, kept in the app dir: Kubefile (line 18)." in header


def _command_lines(script: str) -> set[int]:
    """The lines holding a command: not structure, function calls, plain assignments, comments or
    here-document text."""
    functions = set(re.findall(r"^\s*(?:function )?([\w:-]+)\(\)", script, re.M))
    structure = re.compile(r"[{}]|fi|else|then|done|esac|;;|[\w*|-]+\)|(function )?[\w:-]+\(\) *\{"
                           r"|((export|readonly|local) )*\w+=(?!\"?\$\(|`).*")
    lines, here_document = set(), ""
    for n, raw in enumerate(script.splitlines(), 1):
        line = raw.strip()
        if here_document:
            here_document = "" if line == here_document else here_document
            continue
        opened = re.search(r"<<-?\s*['\"]?(\w+)", line)
        here_document = opened.group(1) if opened else ""
        if line and not line.startswith("#") and not structure.fullmatch(line) \
                and line.split()[0] not in functions:
            lines.add(n)
    return lines


@pytest.mark.parametrize("name", ["chart.init.sh", "manifests.init.sh", "binaries.init.sh",
                                  "uncommon.init.sh"])
def test_every_command_is_either_converted_or_skipped(name: str) -> None:
    script = data_script(name)
    conversion = convert_init_sh(script, "demo")
    reported: set[int] = set()
    for line in conversion.converted + conversion.skipped:
        first, _, last = line.split(" ")[0].split(":")[1].partition("-")
        reported |= set(range(int(first), int(last or first) + 1))
    assert _command_lines(script) - reported == set()


def test_conditions_that_are_not_checks_are_flagged_and_each_branch_converted() -> None:
    conversion = convert("""
if [ "$VERSION" = "latest" ]; then
  wget -q https://example.com/latest/app.yaml -P manifests
else
  wget -q https://example.com/$VERSION/app.yaml -P manifests
fi
""")
    assert conversion.spec["inputs"] == [
        {"kind": "manifest", "url": "https://example.com/{{ version }}/app.yaml"}]
    assert to_do(conversion) == ['init.sh:8-12 if [ "$VERSION" = "latest" ]: not evaluated (every branch '
                                 'was converted: check that each applies)']


def test_directories_changed_and_error_handlers_are_followed() -> None:
    conversion = convert("""
mkdir -p manifests
cd manifests && {
  wget -q https://example.com/app.yaml
  cd -
}
command_check() { $1 >/dev/null 2>&1 || { echo "$1 is missing"; exit 1; }; }
command_check "helm version"
""")
    assert conversion.spec == {"inputs": [{"kind": "manifest", "url": "https://example.com/app.yaml"}]}
    assert conversion.converted == ("init.sh:10 wget -q https://example.com/app.yaml -> inputs[0] manifest "
                                    "manifests/app.yaml",)
    assert conversion.skipped[-4:] == (
        "init.sh:9 cd manifests: not needed (paths after it are read from manifests)",
        "init.sh:11 cd -: not needed (paths after it are read from the app dir again)",
        "init.sh:13 helm version > /dev/null 2>&1: not needed (checks a tool)",
        'init.sh:13 { echo "$1 is missing"; exit 1; }: not needed (error handling)')


def test_a_script_that_cannot_be_read_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"init.sh:3: cannot read the script: .*quote"):
        convert_init_sh("#!/bin/bash\nset -e\necho 'unclosed\n", "demo")


def test_write_conversion_writes_the_commented_yaml_once(tmp_path: Path) -> None:
    conversion = convert_init_sh(data_script("chart.init.sh"), "web")
    target = write_conversion(tmp_path, conversion)
    assert target == tmp_path / "clusterbuild.yaml"
    text = target.read_text()
    assert text.startswith("# clusterbuild.yaml converted from init.sh by `clusterbuild import`.\n")
    assert "  # line 27 helm pull ${repo_name} --version=${chart_version} -d charts/ --untar\n" in text
    assert AppSpec.model_validate(yaml.safe_load(text)).model_dump(exclude_defaults=True) == {
        "inputs": conversion.spec["inputs"], "images": conversion.spec["images"]}
    with pytest.raises(InputError, match="exists"):
        write_conversion(tmp_path, conversion)
    assert target.read_text() == text
    with pytest.raises(InputError, match="no such app directory"):
        write_conversion(tmp_path / "missing", conversion)


# -- end to end: legacy build and converted build, compared -------------------------------------

def _elf(arch: str) -> bytes:
    """Enough of an ELF header for the architecture check, then the arch as text."""
    machine = {"amd64": 62, "arm64": 183}[arch]
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + (2).to_bytes(2, "little")
    return header + machine.to_bytes(2, "little") + b"\0" * 44 + arch.encode()


def _put_blob(registry: str, name: str, data: bytes) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    location = httpx.post(f"http://{registry}/v2/{name}/blobs/uploads/").headers["location"]
    url = location if location.startswith("http") else f"http://{registry}{location}"
    url += ("&" if "?" in url else "?") + f"digest={digest}"
    httpx.put(url, content=data, headers={"Content-Type": "application/octet-stream"}).raise_for_status()
    return {"digest": digest, "size": len(data)}


def _push_image(registry: str, name: str, tag: str) -> None:
    """A tiny two-platform image (docker manifest list) pushed to the test registry."""
    docker = "application/vnd.docker."
    entries = []
    for arch in ("amd64", "arm64"):
        layer = gzip.compress(tgz({"hello": arch.encode()}), mtime=0)
        config = json.dumps({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
            "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]}}).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": docker + "distribution.manifest.v2+json",
            "config": {"mediaType": docker + "container.image.v1+json", **_put_blob(registry, name, config)},
            "layers": [{"mediaType": docker + "image.rootfs.diff.tar.gzip",
                        **_put_blob(registry, name, layer)}],
        }).encode()
        entries.append({"mediaType": docker + "distribution.manifest.v2+json",
                        "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(), "size": len(manifest),
                        "platform": {"architecture": arch, "os": "linux"}})
        httpx.put(f"http://{registry}/v2/{name}/manifests/{entries[-1]['digest']}", content=manifest,
                  headers={"Content-Type": docker + "distribution.manifest.v2+json"}).raise_for_status()
    index = json.dumps({"schemaVersion": 2, "mediaType": docker + "distribution.manifest.list.v2+json",
                        "manifests": entries}).encode()
    httpx.put(f"http://{registry}/v2/{name}/manifests/{tag}", content=index,
              headers={"Content-Type": docker + "distribution.manifest.list.v2+json"}).raise_for_status()


@pytest.fixture(scope="module")
def seeded(registry: str) -> str:
    for name, tag in (("seed/web", "1"), ("seed/extra", "1"), ("seed/sidecar", "1.2.3")):
        _push_image(registry, name, tag)
    return registry


KUBEFILE = 'FROM scratch\nCOPY . .\nCMD ["kubectl apply -f manifests"]\n'


def _workspace(root: Path, app: str, files: dict[str, str], registry: str) -> tuple[Path, Path]:
    ws = copy_workspace(root)
    app_dir = ws / "applications" / app / "latest"
    app_dir.mkdir(parents=True)
    for name, text in {"Kubefile": KUBEFILE, **files}.items():
        (app_dir / name).write_text(text)
    insecure = f"registries:\n  insecure: [\"{registry}\"]\napps:\n"
    text = (ws / "apps.yaml").read_text().replace("apps:\n", insecure)
    (ws / "apps.yaml").write_text(text + f"  {app}:\n    versions: [\"{VERSION}\"]\n")
    return ws, app_dir


def _content(ws: Path, app: str, arch: str, tmp: Path) -> dict[str, bytes]:
    """The files under charts/, manifests/ and opt/ of the app's image for one platform."""
    copied = tmp / f"{ws.name}-{arch}"
    ref = f"docker.io/labring/{app}:{VERSION}-{arch}"
    subprocess.run(["skopeo", "copy", f"oci:{ws / 'out'}:{ref}", f"dir:{copied}"], check=True,
                   capture_output=True)
    out = {}
    for layer in json.loads((copied / "manifest.json").read_text())["layers"]:
        with tarfile.open(copied / layer["digest"].split(":")[1]) as tar:
            for member in tar:
                if member.isfile() and member.name.startswith(("charts/", "manifests/", "opt/")):
                    out[member.name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    return out


def _images(ws: Path, app: str) -> set[str]:
    found = json.loads(cli("images", "-C", str(ws), app, "--json").stdout)
    return {item["reference"] for item in found}


def _build_converted(tmp: Path, app: str, conversion: Conversion, registry: str) -> Path:
    ws, app_dir = _workspace(tmp / "converted", app, {}, registry)
    write_conversion(app_dir, conversion)
    cli("lock", "-C", str(ws), app)
    apply_json(ws, app, "--frozen")
    return ws


def _same_as_legacy(tmp: Path, app: str, script: str, registry: str) -> dict[str, dict[str, bytes]]:
    """Build the app by its init.sh and by its conversion; the content both images share."""
    legacy, _ = _workspace(tmp / "legacy", app, {"init.sh": script}, registry)
    ran = apply_json(legacy, app)["ran"]
    assert sorted(r["platforms"][0] for r in ran if r["kind"] == "script") == ["linux/amd64", "linux/arm64"]
    conversion = convert_init_sh(script, app)
    assert to_do(conversion) == []
    converted = _build_converted(tmp, app, conversion, registry)
    contents = {}
    for arch in ("amd64", "arm64"):
        contents[arch] = _content(legacy, app, arch, tmp)
        assert _content(converted, app, arch, tmp) == contents[arch]
    assert _images(converted, app) == _images(legacy, app)
    return contents


def test_converted_manifests_build_what_the_script_builds(tmp_path: Path, static_server: tuple[str, Path],
                                                          seeded: str) -> None:
    url, root = static_server
    base = root / "shop"
    deployment = ("kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
                  f"        - image: {seeded}/seed/web:1\n")
    for path, text in {f"releases/download/{VERSION}/install.yaml": deployment,
                       "raw/1.2.3/deploy/crds.yaml": "kind: CustomResourceDefinition\n",
                       "raw/main/extra/config.yaml": "kind: ConfigMap\n",
                       f"releases/download/{VERSION}/rbac.yaml": "kind: ClusterRole\n"}.items():
        (base / path).parent.mkdir(parents=True, exist_ok=True)
        (base / path).write_text(text)
    contents = _same_as_legacy(tmp_path, "shop", data_script("manifests.init.sh", url, seeded), seeded)
    assert sorted(contents["amd64"]) == ["manifests/config.yaml", "manifests/crds.yaml",
                                         "manifests/install.yaml", "manifests/rbac.yaml"]
    converted = tmp_path / "converted"
    assert _images(converted, "shop") == {f"{seeded}/seed/web:1", f"{seeded}/seed/extra:1",
                                          f"{seeded}/seed/sidecar:1.2.3"}


def test_converted_binaries_build_what_the_script_builds(tmp_path: Path, static_server: tuple[str, Path],
                                                         seeded: str) -> None:
    url, root = static_server
    for arch, machine in (("amd64", "x86_64"), ("arm64", "aarch64")):
        files = {
            f"tool/{VERSION}/tool-1.2.3-linux-{machine}.tar.gz": tgz({
                f"tool-1.2.3-linux-{machine}/tool": _elf(arch),
                f"tool-1.2.3-linux-{machine}/README": b"tool\n"}),
            f"ctl/ctl-linux-{arch}.tar.gz": tgz({"ctl": _elf(arch), "LICENSE": b"MIT\n"}),
            f"helper/{VERSION}/helper-linux-{arch}": _elf(arch),
            f"agent/agent-linux-{arch}.gz": gzip.compress(_elf(arch), mtime=0),
        }
        for path, data in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(data)
    contents = _same_as_legacy(tmp_path, "tools", data_script("binaries.init.sh", url, seeded), seeded)
    for arch in ("amd64", "arm64"):
        assert sorted(contents[arch]) == ["opt/agent", "opt/ctl", "opt/helper", "opt/tool"]
        assert all(data == _elf(arch) for data in contents[arch].values())


def test_a_converted_chart_is_the_one_helm_would_pull(tmp_path: Path, static_server: tuple[str, Path],
                                                      seeded: str) -> None:
    url, root = static_server
    (root / "charts").mkdir()
    values = (f"image:\n  repository: {seeded}/seed/web\n  tag: '1'\n  digest: sha256:{'a' * 64}\n"
              "debug: true\nreplicas: 1\n")
    template = ("kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - image: "
                '"{{ .Values.image.repository }}:{{ .Values.image.tag }}'
                '{{ if .Values.image.digest }}@{{ .Values.image.digest }}{{ end }}"\n')
    archives, entries = {}, []
    versions = (("0.1.0", "v1.2.2"), ("0.2.0", VERSION), ("0.2.1", VERSION), ("0.3.0", "v1.3.0"))
    for chart_version, app_version in versions:
        chart = f"apiVersion: v2\nname: web\nversion: {chart_version}\nappVersion: {app_version}\n"
        files = {"web/Chart.yaml": chart, "web/values.yaml": values,
                 "web/templates/deployment.yaml": template}
        archives[chart_version] = {k: v.encode() for k, v in files.items()}
        data = tgz(archives[chart_version])
        (root / f"charts/web-{chart_version}.tgz").write_bytes(data)
        entries.append({"name": "web", "version": chart_version, "appVersion": app_version,
                        "urls": [f"web-{chart_version}.tgz"], "digest": hashlib.sha256(data).hexdigest()})
    (root / "charts/index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": {"web": entries}}))

    conversion = convert_init_sh(data_script("chart.init.sh", url, seeded), "web")
    assert to_do(conversion) == []
    ws = _build_converted(tmp_path, "web", conversion, seeded)
    expected = {"charts/" + name: data for name, data in archives["0.2.1"].items()}  # helm's pick for v1.2.3
    edited = yaml.safe_load(values)
    edited["image"]["digest"] = None  # yq -i '.image.digest = null'
    del edited["debug"]  # yq -i 'del(.debug)'
    for arch in ("amd64", "arm64"):
        content = _content(ws, "web", arch, tmp_path)
        assert yaml.safe_load(content.pop("charts/web/values.yaml")) == edited
        expected.pop("charts/web/values.yaml", None)
        assert content == expected
    assert _images(ws, "web") == {f"{seeded}/seed/web:1", f"{seeded}/seed/extra:1"}


def test_a_sha256sum_check_becomes_sha256_url() -> None:
    release = "https://github.com/org/tool/releases/download/${VERSION}"
    conversion = convert(
        "mkdir -p opt\n"
        f"wget -q {release}/tool-linux-${{ARCH}}.tar.gz\n"
        f"wget -q {release}/checksums.txt\n"
        "sha256sum -c checksums.txt --ignore-missing\n"
        "tar -zxf tool-linux-${ARCH}.tar.gz -C opt tool\n"
        "rm -f tool-linux-${ARCH}.tar.gz checksums.txt\n")
    [tool] = conversion.spec["inputs"]
    assert tool["sha256_url"] == "https://github.com/org/tool/releases/download/{{ version }}/checksums.txt"
    assert tool["url"].endswith("/tool-linux-{{ arch }}.tar.gz") and tool["member"] == "tool"
    assert to_do(conversion) == []
    unchecked = convert(f"wget -q {release}/tool.tgz\nsha256sum -c other.txt\n")
    assert any("other.txt is not a checksum list the script downloaded" in line for line in to_do(unchecked))
