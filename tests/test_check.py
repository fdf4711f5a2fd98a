"""``clusterbuild check``: offline validation of every app version, every problem on its own
line; and the real catalogue under applications/ passes it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import REPO, cli, copy_workspace

CHART = "applications/hello-chart/latest"
TOOLS = "applications/hello-tools/latest"


def _edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def change(ws: Path) -> None:
        path = ws / rel
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new))
    return change


def _remove(rel: str) -> Callable[[Path], None]:
    return lambda ws: (ws / rel).unlink()


def _append(rel: str, text: str) -> Callable[[Path], None]:
    def change(ws: Path) -> None:
        path = ws / rel
        path.write_text(path.read_text() + text)
    return change


def _pin_version_dir(ws: Path) -> None:
    """hello-chart keeps only its v0.1.0/ dir, and apps.yaml asks for v0.2.0 too."""
    (ws / CHART).rename(ws / "applications/hello-chart/v0.1.0")
    _edit("apps.yaml", 'versions: ["v0.1.0"]', 'versions: ["v0.1.0", "v0.2.0"]')(ws)


BREAKS: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "unknown spec key": (_edit(f"{TOOLS}/clusterbuild.yaml", "inputs:", "inptus:"),
                         ["clusterbuild.yaml: inptus: unknown key", "did you mean 'inputs'"]),
    "undefined template variable": (_edit(f"{TOOLS}/clusterbuild.yaml", "{{ arch }}", "{{ archh }}"),
                                    ["inputs[0].src", "'archh' is undefined"]),
    "missing COPY source": (_edit(f"{CHART}/Kubefile", "COPY images images", "COPY values values"),
                            ["Kubefile:8: 'values' not found in the build context"]),
    "CMD names a missing script": (_edit(f"{TOOLS}/Kubefile", "bash entrypoint.sh", "bash install.sh"),
                                   ["CMD: 'bash install.sh' names install.sh, which the image will not "
                                    "hold"]),
    "unbalanced HELM_OPTS": (_edit(f"{CHART}/Kubefile", '"--set replicaCount=1"', '"--set \'a=1"'),
                             ["ENV HELM_OPTS: cannot split", "balance the quotes"]),
    "HELM_OPTS values file missing": (_edit(f"{CHART}/Kubefile", '"--set replicaCount=1"',
                                            '"-f charts/prod.yaml"'),
                                      ["ENV HELM_OPTS: -f charts/prod.yaml is not in the build context"]),
    "missing README": (_remove("applications/hello-chart/README.md"),
                       ["hello-chart/README.md: missing"]),
    "version without a directory": (lambda ws: _pin_version_dir(ws),
                                    ["hello-chart:v0.2.0", "neither v0.2.0/ nor latest/"]),
    "bad image reference": (_append(f"{TOOLS}/clusterbuild.yaml", "  extra: ['Not A Ref!']\n"),
                            ["images.extra[0]"]),
}


@pytest.mark.parametrize("name", list(BREAKS))
def test_each_break_is_one_line_naming_file_field_and_fix(workspace: Path, name: str) -> None:
    assert cli("check", "-C", str(workspace)).returncode == 0
    change, expected = BREAKS[name]
    change(workspace)
    proc = cli("check", "-C", str(workspace), check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    for fragment in expected:
        assert fragment in errors[0], errors[0]
    assert "hint:" in errors[0]


def test_every_problem_is_listed_not_only_the_first(workspace: Path) -> None:
    for name in ("missing COPY source", "CMD names a missing script", "missing README"):
        BREAKS[name][0](workspace)
    proc = cli("check", "-C", str(workspace), check=False)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert proc.returncode == 3 and len(errors) == 3, proc.stderr
    assert "3 problems" in proc.stdout


def test_declared_inputs_count_as_files_of_the_context(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    app = ws / "applications/remote/latest"
    app.mkdir(parents=True)
    (ws / "applications/remote/README.md").write_text("# remote\n")
    (app / "Kubefile").write_text("FROM scratch\nCOPY charts charts\nCOPY opt opt\nCOPY registry registry\n"
                                  "COPY manifests manifests\nCMD [\"helm upgrade -i web charts/web\", "
                                  "\"cp opt/tool /usr/bin/\", \"kubectl apply -f manifests/install.yaml\"]\n")
    (app / "clusterbuild.yaml").write_text(
        "inputs:\n  - {kind: chart, repo: https://charts.example.com, name: web, version: 1.0.0}\n"
        "  - {kind: binary, url: 'https://example.com/tool-{{ arch }}', dest: opt/tool}\n"
        "  - {kind: manifest, url: https://example.com/install.yaml}\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  remote:\n    versions: [v1]\n")
    proc = cli("check", "-C", str(ws))
    assert "3 app versions checked, 0 problems" in proc.stdout


def test_a_cmd_may_name_files_inside_an_archive_directory_but_not_beside_it(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    app = ws / "applications/remote/latest"
    app.mkdir(parents=True)
    (ws / "applications/remote/README.md").write_text("# remote\n")
    (app / "Kubefile").write_text("FROM scratch\nCOPY charts charts\nCOPY registry registry\n"
                                  "CMD [\"helm upgrade -i web charts/web\", \"bash opt/setup.sh\"]\n")
    (app / "clusterbuild.yaml").write_text(
        "inputs:\n  - {kind: archive, url: 'https://example.com/src-{{ version }}.tar.gz', "
        "path: 'src-{{ version }}/charts', dest: charts}\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  remote:\n    versions: [v1]\n")
    proc = cli("check", "-C", str(ws), "remote", check=False)
    assert proc.returncode == 3
    assert "names opt/setup.sh, which the image will not hold" in proc.stderr
    assert "charts/web" not in proc.stderr  # what the archive holds is known only once it is fetched


def test_the_catalogue_passes(tmp_path: Path) -> None:
    proc = cli("check", "-C", str(REPO), check=False)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[0]) >= 30


def test_images_why_answers_for_every_catalogue_app_offline(tmp_path: Path) -> None:
    import yaml

    apps = yaml.safe_load((REPO / "apps.yaml").read_text())["apps"]
    proc = cli("images", "--why", "-C", str(REPO), "--cache-dir", str(tmp_path / "cache"), check=False)
    lines = proc.stdout.splitlines()
    unknown = any(line.startswith("not known yet: ") for line in lines)
    assert proc.returncode == (3 if unknown else 0), proc.stderr  # an incomplete answer says so
    assert not unknown or "run `clusterbuild lock` first" in proc.stderr
    for app in apps:
        known = any(line.startswith(f"not known yet: {app}:") for line in lines)
        listed = any("images.extra" in line or app in line for line in lines)
        assert known or listed, f"{app}: `images --why` says nothing"
