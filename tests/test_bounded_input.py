"""Small hostile files get a one-line error and exit 3, in bounded time and memory: YAML
alias bombs, deep nesting, duplicate keys, template bombs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import copy_workspace

TOOLS = "applications/hello-tools/latest"
LAUGHS = "\n".join(["lol0: &l0 [lol]", *(f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]"
                                          for i in range(1, 10))])


# The run is started by a small launcher process: on Linux a child's ru_maxrss starts at its
# parent's RSS at fork (the high-water mark of the address space exec replaces), so a run
# forked straight from a pytest process that has grown to 200 MB would report 200 MB.
LAUNCHER = """
import os, sys
pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "clusterbuild", *sys.argv[1:]], os.environ,
                     file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _bounded_cli(*args: str) -> tuple[int, str, float, float]:
    """Exit code, stderr, seconds and peak RSS (MB) of one clusterbuild run."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *args], capture_output=True, text=True, check=True)
    seconds = time.monotonic() - start
    code, maxrss_kb = (int(word) for word in proc.stdout.split())
    return code, proc.stderr, seconds, maxrss_kb / 1024


def _apps_yaml(ws: Path, text: str) -> None:
    (ws / "apps.yaml").write_text(text)


def _spec(ws: Path, text: str) -> None:
    (ws / TOOLS / "clusterbuild.yaml").write_text(text)


def _build_arg(template: str) -> str:
    return ("registry: docker.io/labring\napps:\n  hello-tools:\n    versions: [v1.0.0]\n"
            f"    build_args: {{VERSION: \"{template}\"}}\n")


CASES = {
    "alias bomb in profiles": (_spec, f"{LAUGHS}\nimages:\n  profiles: {{bomb: {{x: *l9}}}}\n",
                               "aliases expand"),
    "alias bomb in values.set": (_spec, f"{LAUGHS}\ninputs:\n  - kind: chart\n    repo: https://x.io\n"
                                        "    name: c\n    version: 1.0.0\n    values: {set: {a: *l9}}\n",
                                 "aliases expand"),
    "recursive alias": (_apps_yaml, "registry: docker.io/x\napps: &a {x: *a}\n", "refers to a node"),
    "duplicate apps": (_apps_yaml, "registry: docker.io/x\napps:\n  a: {versions: [v1]}\n"
                                   "apps:\n  b: {versions: [v1]}\n", "apps (line 4): the key appears twice"),
    "duplicate app": (_apps_yaml, "registry: docker.io/x\napps:\n  a: {versions: [v1]}\n"
                                  "  a: {versions: [v2]}\n", "apps.a (line 4)"),
    "10000-deep apps.yaml": (_apps_yaml, "registry: docker.io/x\napps: " + "[" * 10_000 + "]" * 10_000 + "\n",
                             "nested deeper than"),
    "500-deep profiles": (_spec, "images:\n  profiles:\n    deep: " + "{a: " * 500 + "1" + "}" * 500 + "\n",
                          "nested deeper than"),
    "string repetition": (_apps_yaml, _build_arg("{{ 'x' * 10**10 }}"),
                          "build_args.VERSION: template refused"),
    "power": (_apps_yaml, _build_arg("{{ 9**(9**9) }}"), "is too large"),
    "nested ranges": (_apps_yaml, _build_arg("{% for i in range(100000) %}{% for j in range(100000) %}"
                                             "{% endfor %}{% endfor %}"), "rendering takes longer"),
    "huge range": (_apps_yaml, _build_arg("{{ range(10**9)|list }}"), "too large"),
    "huge filter argument": (_apps_yaml, _build_arg("{{ 'x'|center(10**9) }}"), "too large"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_refused_quickly_and_cheaply(workspace: Path, name: str) -> None:
    write, text, expected = CASES[name]
    write(workspace, text)
    code, err, seconds, rss_mb = _bounded_cli("plan", "-C", str(workspace))
    assert code == 3, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors and expected in errors[0] and "hint:" in errors[0], err
    assert "unexpected" not in err
    assert seconds < 2.5 and rss_mb < 200, (seconds, rss_mb)  # 2 s of work plus interpreter start


YAMLISH = st.lists(st.sampled_from([*"ab:-[]{}&*!|>'\"#,? \n\t01.%@`~", "apps", "versions", "registry",
                                    "<<", "\n  ", ": ", "- "]), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(YAMLISH)
def test_any_apps_yaml_is_loaded_or_refused_with_a_config_error(tmp_path_factory: pytest.TempPathFactory,
                                                                 text: str) -> None:
    from clusterbuild.errors import ClusterbuildError
    from clusterbuild.workspace.load import load_workspace, select

    root = tmp_path_factory.mktemp("fuzz")
    (root / "apps.yaml").write_text(text)
    try:
        select(load_workspace(root), ())
    except ClusterbuildError as exc:
        assert exc.exit_code == 3 and "\n" not in str(exc)


def test_a_valid_workspace_still_loads(tmp_path: Path) -> None:
    ws = copy_workspace(tmp_path / "ws")
    code, err, _, _ = _bounded_cli("plan", "-C", str(ws))
    assert code == 0, err
