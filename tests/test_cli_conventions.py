"""CLI conventions a newcomer meets first: clean --help of every command, --version, shell
completion, a plan grouped by app then platform with counts, distinct step labels."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import typer

from clusterbuild.cli.main import app

from conftest import cli, copy_workspace


def _commands(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


def test_every_help_shows_metavars_not_internal_types() -> None:
    commands = list(_commands(typer.main.get_command(app)))
    assert ("plan",) in commands and ("cache", "gc") in commands
    for path in commands:
        out = cli(*path, "--help").stdout
        assert not re.search(r"<(bool|str|int|float|list\[|path>|dir>|file>)", out), (path, out)
        usage = out.splitlines()[0]
        assert "{" not in usage and "[[" not in usage and "]...]..." not in usage, usage
    plan_help = cli("plan", "--help").stdout
    assert "Usage: clusterbuild plan [OPTIONS] [APP[:VERSION]]..." in plan_help
    assert "-p, --platform PLATFORM" in plan_help
    assert "[default: <workspace>/cache]" in " ".join(cli("--help").stdout.split())  # not eaten
    assert "Usage: clusterbuild sync [OPTIONS] SOURCE TARGET" in cli("sync", "--help").stdout


def test_version() -> None:
    assert cli("--version").stdout == f"clusterbuild {version('clusterbuild')}\n"


def _under_bash(*args: str, env: dict[str, str] | None = None) -> str:
    """Run clusterbuild as a child of a real bash: typer finds the shell by walking the
    process tree (shellingham), which under pytest need not hold a shell at all."""
    command = " ".join([sys.executable, "-m", "clusterbuild", *args])
    proc = subprocess.run(["bash", "-c", f"{command}; exit $?"], capture_output=True, text=True,
                          env={**os.environ, "SHELL": "/bin/bash", **(env or {})}, check=True)
    return proc.stdout


def test_completion_for_bash(tmp_path: Path) -> None:
    script = _under_bash("--show-completion")
    assert "_CLUSTERBUILD_COMPLETE=complete_bash" in script
    env = {**os.environ, "_CLUSTERBUILD_COMPLETE": "complete_bash", "COMP_WORDS": "clusterbuild pl",
           "COMP_CWORD": "1"}
    proc = subprocess.run([sys.executable, "-m", "clusterbuild"], env=env, capture_output=True,
                          text=True, check=True)
    assert proc.stdout.split() == ["plan"]
    home = tmp_path / "home"
    home.mkdir()
    _under_bash("--install-completion", env={"HOME": str(home)})
    assert "clusterbuild" in (home / ".bashrc").read_text()


def test_plan_groups_by_app_then_platform(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    out = cli("plan", "-C", str(ws)).stdout.splitlines()
    headers = [line for line in out if not line.startswith(" ")]
    assert headers[:2] == ["hello-chart:v0.1.0  (7 steps, 7 stale)", "hello-tools:v1.0.0  (7 steps, 7 stale)"]
    assert headers[-1] == "14 steps: 14 stale, 0 fresh"
    tools = out[out.index(headers[1]) + 1:out.index(headers[2])]
    assert [line for line in tools if not line.startswith("    ")] == [
        "  linux/amd64,linux/arm64", "  linux/amd64", "  linux/arm64"]
    steps = [line for line in out if line.startswith("    ")]
    columns = {line.index(line.split()[2]) for line in steps if len(line.split()) > 2}
    assert len(columns) == 1, steps  # the third column starts at one place: kinds are aligned
    assert "    stale  image   1 layer  (never built)" in tools


def test_step_labels_are_distinct(tmp_path: Path) -> None:
    from clusterbuild.commands.build import plan_workspace
    from clusterbuild.settings import CommandLine, read_settings
    from clusterbuild.workspace.load import load_workspace

    ws = load_workspace(copy_workspace(tmp_path / "ws"))
    settings = read_settings(CommandLine(workspace=ws.root), ws.config, {})
    labels = [step.label for step in plan_workspace(settings, ws, lambda _: None).plan.steps]
    assert len(labels) == len(set(labels)), labels
    assert "layer hello-chart:v0.1.0 [linux/amd64,linux/arm64] COPY charts charts" in labels


def test_summary_is_singular_for_one_step(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    cli("apply", "-C", str(ws), "hello-tools")
    (ws / "out" / "index.json").unlink()
    out = cli("apply", "-C", str(ws), "hello-tools").stdout
    assert re.search(r"^1 step ran, 6 cached", out, re.M), out
