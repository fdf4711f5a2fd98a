"""``releases:``: a repository's latest release tag, pinned by ``clusterbuild lock``.

GitHub's API is played by tests/github_fake.py (``GET /repos/O/R/releases/latest`` as GitHub
answers it); github.com's release downloads by a static server; both reached through
``downloads.mirrors``. The import tests convert the catalogue's ways of asking for the latest
release and build each script both ways (the legacy run's curl and wget rewritten to the
same local servers).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from github_fake import FakeGitHub
from test_import import HEADER, VERSION, _content, _elf, _workspace, convert, seeded, to_do  # noqa: F401
from test_import_shapes import _both_ways

from conftest import apply_json, cli, tgz

KUBEFILE = 'FROM scratch\nCOPY . .\nCMD ["bash opt/run.sh"]\n'


def _release_workspace(tmp: Path, github: FakeGitHub, www: str) -> Path:
    ws, app_dir = _workspace(tmp / "ws", "tool", {"Kubefile": KUBEFILE}, "127.0.0.1:9")
    text = (ws / "apps.yaml").read_text()
    mirrors = {"https://api.github.com/": github.url + "/", "https://github.com/": www + "/gh/"}
    (ws / "apps.yaml").write_text(f"downloads:\n  mirrors: {json.dumps(mirrors)}\n" + text)
    (app_dir.parent / "README.md").write_text("# tool\n\nRuns opt/run.sh of the latest release.\n")
    (app_dir / "clusterbuild.yaml").write_text(
        "releases:\n  tool:\n    github: acme/tool\n"
        "inputs:\n  - kind: url\n"
        "    url: https://github.com/acme/tool/releases/download/{{ releases.tool }}/run-{{ releases.tool"
        " | cut('v', 2) }}.sh\n    dest: opt/run.sh\n")
    return ws


def _locked_tag(ws: Path) -> str:
    lock = yaml.safe_load((ws / "apps.lock").read_text())
    tag: str = lock["inputs"]["tool"][VERSION]["releases.tool"]["*"]["tag"]
    return tag


def test_a_release_is_resolved_by_lock_pinned_and_moved_only_by_update(
        tmp_path: Path, static_server: tuple[str, Path]) -> None:
    url, root = static_server
    for tag in ("v1.0.0", "v2.0.0"):
        (root / f"gh/acme/tool/releases/download/{tag}").mkdir(parents=True)
        (root / f"gh/acme/tool/releases/download/{tag}/run-{tag[1:]}.sh").write_text(f"echo {tag}\n")
    with FakeGitHub() as github:
        github.add_release("acme/tool", "v1.0.0")
        ws = _release_workspace(tmp_path, github, url)
        cli("check", "-C", str(ws), "tool")  # offline: the release is not asked for
        assert github.requests == []
        frozen = cli("apply", "-C", str(ws), "--frozen", check=False)
        assert frozen.returncode == 3, frozen.stderr
        assert "releases.tool (github acme/tool): not locked" in frozen.stderr
        assert "clusterbuild lock" in frozen.stderr
        cli("lock", "-C", str(ws))
        assert _locked_tag(ws) == "v1.0.0"
        asked = len(github.requests)
        assert github.requests == [("GET", "/repos/acme/tool/releases/latest")]
        github.add_release("acme/tool", "v2.0.0")
        github.add_release("acme/tool", "v3.0.0-rc.1", prerelease=True)
        apply_json(ws, "--frozen")
        assert len(github.requests) == asked  # a frozen build never asks again
        (tmp_path / "v1").mkdir()
        (tmp_path / "v2").mkdir()
        assert _content(ws, "tool", "arm64", tmp_path / "v1")["opt/run.sh"] == b"echo v1.0.0\n"
        cli("lock", "-C", str(ws), "--update")
        assert _locked_tag(ws) == "v2.0.0"  # GitHub's latest: the prerelease is not it
        apply_json(ws, "--frozen")
        assert _content(ws, "tool", "amd64", tmp_path / "v2")["opt/run.sh"] == b"echo v2.0.0\n"
        spec = ws / "applications/tool/latest/clusterbuild.yaml"
        spec.write_text(spec.read_text().replace("acme/tool", "acme/other"))
        changed = cli("apply", "-C", str(ws), "--frozen", check=False)
        assert changed.returncode == 3 and "changed since locked" in changed.stderr


def test_a_repository_without_releases_fails_naming_it(tmp_path: Path,
                                                       static_server: tuple[str, Path]) -> None:
    url, _ = static_server
    with FakeGitHub() as github:
        ws = _release_workspace(tmp_path, github, url)
        failed = cli("lock", "-C", str(ws), check=False)
    assert failed.returncode != 0
    assert "acme/tool" in failed.stderr and "releases/latest" in failed.stderr
    assert not (ws / "apps.lock").exists() or "releases.tool" not in (ws / "apps.lock").read_text()


def test_latest_release_idioms_become_releases() -> None:
    conversion = convert(
        'tag=$(curl -s "https://api.github.com/repos/acme/tool/releases/latest" | jq -r \'.tag_name\')\n'
        "bk=$(curl -s https://api.github.com/repos/moby/buildkit/releases/latest | grep '\"tag_name\"' "
        "| sed -E 's/.*\"([^\"]+)\".*/\\1/')\n"
        'readonly diff_version=${diffLatest:-$(\nuntil curl -sL "https://api.github.com/repos/acme/helm-diff'
        '/releases/latest"; do sleep 3; done | grep tarball_url | \\\n'
        "awk -F\\\" '{print $(NF-1)}' | awk -F/ '{print $NF}' | cut -dv -f2)}\n"
        "export CDI_TAG=$(curl -s -w %{redirect_url} https://github.com/kubevirt/cdi/releases/latest)\n"
        "export CDI_VERSION=$(echo ${CDI_TAG##*/})\n"
        "mkdir -p opt manifests\n"
        'wget -qO- "https://github.com/acme/tool/releases/download/${tag}/tool-${ARCH}.tar.gz" '
        "| tar -zx -C opt --strip=1\n"
        "wget -qP manifests https://raw.githubusercontent.com/moby/buildkit/${bk}/buildkit.yaml\n"
        "wget -qO- https://github.com/acme/helm-diff/releases/download/v${diff_version}/diff-${ARCH}.tgz "
        "| tar -xz\n"
        "mv diff opt/\n"
        "wget -qP manifests https://github.com/kubevirt/cdi/releases/download/$CDI_VERSION/cdi.yaml\n")
    assert to_do(conversion) == []
    assert conversion.spec["releases"] == {
        "tool": {"github": "acme/tool"}, "buildkit": {"github": "moby/buildkit"},
        "helm_diff": {"github": "acme/helm-diff"}, "cdi": {"github": "kubevirt/cdi"}}
    urls = {i.get("url"): i for i in conversion.spec["inputs"]}
    tool = urls["https://github.com/acme/tool/releases/download/{{ releases.tool }}/tool-{{ arch }}.tar.gz"]
    assert (tool["kind"], tool["path"], tool["dest"]) == ("archive", "*", "opt")
    assert "https://raw.githubusercontent.com/moby/buildkit/{{ releases.buildkit }}/buildkit.yaml" in urls
    diff = urls["https://github.com/acme/helm-diff/releases/download/v{{ releases.helm_diff | cut('v', 2) }}"
                "/diff-{{ arch }}.tgz"]
    assert (diff["member"], diff["dest"]) == ("diff", "opt/diff")
    assert "https://github.com/kubevirt/cdi/releases/download/{{ releases.cdi }}/cdi.yaml" in urls


def test_a_release_list_sorted_by_tag_is_read_by_its_own_filters_not_as_the_latest_release() -> None:
    conversion = convert(  # a release list sorted by tag is not "the latest release"
        "v=$(curl -s https://api.github.com/repos/acme/cli/releases | grep tag_name | grep -v -- '-rc' "
        "| sort -r | head -1 | awk -F': ' '{print $2}' | sed 's/,//' | xargs)\n"
        "wget -qP manifests https://github.com/acme/cli/releases/download/$v/cli.yaml\n")
    assert conversion.spec["releases"] == {"v": {
        "url": "https://api.github.com/repos/acme/cli/releases",
        "run": "grep tag_name | grep -v -- -rc | sort -r | head -1 | awk '-F: ' '{print $2}' | sed s/,// "
               "| xargs"}}
    assert to_do(conversion) == []
    other = convert("v=$(curl -s https://api.github.com/repos/acme/cli/releases | jq -r '.[0].tag_name')\n"
                    "wget -qP manifests https://github.com/acme/cli/releases/download/$v/cli.yaml\n")
    assert "releases" not in other.spec
    assert any("not convertible" in line and "comes from the output of `curl | jq" in line
               for line in to_do(other))


LEGACY_SETUP = """_rw() { REWRITTEN=(); local x; for x in "$@"; do x="${x//https:\\/\\/api.github.com/API}"; \
REWRITTEN+=("${x//https:\\/\\/github.com/WWW}"); done; }
curl() { _rw "$@"; command curl "${REWRITTEN[@]}"; }
wget() { _rw "$@"; command wget "${REWRITTEN[@]}"; }
"""


@pytest.mark.slow
def test_latest_releases_build_what_the_script_builds(
        tmp_path: Path, static_server: tuple[str, Path], seeded: str) -> None:  # noqa: F811
    url, root = static_server
    tool = root / "gh/acme/tool/releases/download/v1.4.0"
    tool.mkdir(parents=True)
    for arch in ("amd64", "arm64"):
        (tool / f"tool-{arch}.tar.gz").write_bytes(tgz({
            "tool-1.4.0/bin/tool": _elf(arch), "tool-1.4.0/README": b"tool\n"}))
    plugin = root / "gh/acme/plugin/releases/download/v0.9.1"
    plugin.mkdir(parents=True)
    (plugin / "plugin.yaml").write_text(
        f"kind: Pod\nspec:\n  containers:\n    - image: {seeded}/seed/sidecar:1.2.3\n")
    script = HEADER + (
        'tag=$(curl -s "https://api.github.com/repos/acme/tool/releases/latest" | jq -r .tag_name)\n'
        'plugin=$(until curl -sL "https://api.github.com/repos/acme/plugin/releases/latest"; do sleep 3; '
        "done | grep tarball_url | awk -F\\\" '{print $(NF-1)}' | awk -F/ '{print $NF}' | cut -dv -f2)\n"
        "mkdir -p opt manifests\n"
        'wget -qO- "https://github.com/acme/tool/releases/download/${tag}/tool-${ARCH}.tar.gz" '
        "| tar -zx -C opt --strip=1\n"
        'wget -qO manifests/plugin.yaml "https://github.com/acme/plugin/releases/download/v${plugin}/plugin.yaml"\n')
    with FakeGitHub() as github:
        github.add_release("acme/tool", "v1.4.0")
        github.add_release("acme/plugin", "v0.9.1")
        setup = LEGACY_SETUP.replace("API", github.url).replace("WWW", url + "/gh")
        mirrors = {"https://api.github.com/": github.url + "/", "https://github.com/": url + "/gh/"}
        contents = _both_ways(tmp_path, "tool", script, seeded, {}, legacy_setup=setup, mirrors=mirrors)
    assert contents["arm64"]["opt/bin/tool"] == _elf("arm64")
    assert set(contents["amd64"]) == {"opt/bin/tool", "opt/README", "manifests/plugin.yaml"}
    lock = yaml.safe_load((tmp_path / "converted/apps.lock").read_text())["inputs"]["tool"][VERSION]
    assert {lock[f"releases.{n}"]["*"]["tag"] for n in ("tool", "plugin")} == {"v1.4.0", "v0.9.1"}
