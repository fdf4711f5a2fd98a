"""Bad input: a one-line error naming the file and the fix, exit code 3, nothing touched."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import apply_json, cli, tree_state

CHART = Path("applications/hello-chart/latest")
TOOLS = Path("applications/hello-tools/latest")


def _edit(rel: Path | str, old: str, new: str) -> Callable[[Path], None]:
    def change(ws: Path) -> None:
        path = ws / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, 1))
    return change


def _write(rel: Path | str, text: str) -> Callable[[Path], None]:
    def change(ws: Path) -> None:
        (ws / rel).write_text(text)
    return change


def _symlink(ws: Path) -> None:
    os.symlink("../../../../../etc/passwd", ws / TOOLS / "manifests/passwd.yaml")


def _absolute_symlink(ws: Path) -> None:
    os.symlink("/etc/passwd", ws / TOOLS / "manifests/passwd.yaml")


def _remove_kubefile(ws: Path) -> None:
    (ws / CHART / "Kubefile").unlink()


CASES = {
    "malformed apps.yaml": (_edit("apps.yaml", "apps:", "apps: [unclosed"),
                            ["apps.yaml", "malformed YAML", "line"]),
    "unknown key": (_edit("apps.yaml", "versions: [\"v1.0.0\"]", "version: [\"v1.0.0\"]"),
                    ["apps.yaml", "apps.hello-tools.version", "did you mean 'versions'"]),
    "unknown key in spec": (_edit(TOOLS / "clusterbuild.yaml", "dest:", "dset:"),
                            ["clusterbuild.yaml", "inputs[0].dset", "did you mean 'dest'"]),
    "bad platform": (_edit("apps.yaml", "linux/arm64]", "linux/arm46]"),
                     ["apps.yaml", "platforms", "unknown architecture"]),
    "missing Kubefile": (_remove_kubefile, ["hello-chart", "no Kubefile", "clusterbuild new"]),
    "RUN": (_edit(CHART / "Kubefile", "COPY charts charts", "RUN helm pull x"),
            ["Kubefile:7", "RUN needs a container engine"]),
    "non-scratch FROM": (_edit(CHART / "Kubefile", "FROM scratch", "FROM ubuntu:22.04"),
                         ["Kubefile:1", "FROM scratch"]),
    "COPY ../x": (_edit(CHART / "Kubefile", "COPY images images", "COPY ../x images"),
                  ["Kubefile:8", "outside the build context"]),
    "escaping symlink": (_symlink, ["passwd.yaml", "leaves the app directory"]),
    "absolute symlink": (_absolute_symlink, ["passwd.yaml", "leaves the app directory"]),
    "undefined template variable": (_edit(TOOLS / "clusterbuild.yaml", "{{ arch }}",
                                          "{{ archh }}"),
                                    ["clusterbuild.yaml", "inputs[0].src", "'archh' is undefined",
                                     "available variables"]),
    "missing declared file": (_edit(TOOLS / "clusterbuild.yaml", "files/", "nope/"),
                              ["clusterbuild.yaml", "inputs[0].src", "does not exist"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_fails_cleanly_and_touches_nothing(workspace: Path, name: str) -> None:
    apply_json(workspace)
    before = tree_state(workspace / "cache", workspace / "out")
    change, expected = CASES[name]
    change(workspace)
    for command in ("plan", "apply"):
        proc = cli(command, "-C", str(workspace), check=False)
        assert proc.returncode == 3, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
        for fragment in expected:
            assert fragment in lines[0], lines[0]
        assert "hint:" in lines[0], lines[0]
    assert tree_state(workspace / "cache", workspace / "out") == before


def test_unknown_app_and_version(workspace: Path) -> None:
    proc = cli("plan", "-C", str(workspace), "hello-chrat", check=False)
    assert proc.returncode == 3 and "unknown app 'hello-chrat'" in proc.stderr
    assert "did you mean 'hello-chart'" in proc.stderr
    (workspace / CHART).rename(workspace / CHART.parent / "v0.1.0")
    proc = cli("plan", "-C", str(workspace), "hello-chart:v9", check=False)
    assert proc.returncode == 3 and "neither v9/ nor latest/" in proc.stderr
    assert cli("plan", "-C", str(workspace), "hello-chart:v0.1.0").returncode == 0


def test_latest_dir_builds_any_requested_version(workspace: Path) -> None:
    result = apply_json(workspace, "hello-tools:v2.0.0", "--platform", "linux/arm64")
    refs = {i["ref"] for i in result["images"]}
    assert refs == {"docker.io/labring/hello-tools:v2.0.0",
                    "docker.io/labring/hello-tools:v2.0.0-arm64"}


def test_debug_shows_a_traceback(workspace: Path) -> None:
    _remove_kubefile(workspace)
    proc = cli("--debug", "plan", "-C", str(workspace), check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr
