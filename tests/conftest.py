"""Fixtures: a copy of the example workspace, the real CLI, a real docker-registry."""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Container, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "hello"  # the offline example workspace


# Modules whose tests run the whole tool end to end (the CLI, init.sh in the sandbox, buildah,
# skopeo); every test that uses the real docker-registry is end to end as well. They are marked
# `slow`: `pytest -m "not slow"` is the quick loop, CI runs everything.
END_TO_END_MODULES = frozenset({
    "test_bad_input", "test_bot_builds", "test_build", "test_catalogue_mirrors", "test_check",
    "test_import", "test_inputs_build", "test_legacy", "test_lifecycle", "test_noop_records", "test_one_pass",
    "test_pull_build", "test_sandbox_signals",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rpartition(".")[2] if item.module else ""
        if module in END_TO_END_MODULES or "registry" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


def copy_workspace(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(EXAMPLE / "apps.yaml", target / "apps.yaml")
    shutil.copytree(EXAMPLE / "applications", target / "applications", symlinks=True)
    return target


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_workspace(tmp_path / "ws")


def cli(*args: str, cwd: Path | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``clusterbuild`` command line in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if k != "CLUSTERBUILD_CACHE_DIR"}
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "clusterbuild", *args], cwd=cwd,
                          capture_output=True, text=True, env=full_env, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"clusterbuild {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def apply_json(ws: Path, *args: str, cache: Path | None = None) -> dict[str, Any]:
    cache_args = ["--cache-dir", str(cache)] if cache else []
    out = cli("apply", "-C", str(ws), *cache_args, "--json", *args).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def ran_steps(result: dict[str, Any]) -> set[tuple[str, str, tuple[str, ...]]]:
    """What an apply ran, as (kind, app, platforms)."""
    return {(r["kind"], r["app"], tuple(r["platforms"])) for r in result["ran"]}


def images(result: dict[str, Any]) -> dict[str, str]:
    return {i["ref"]: i["digest"] for i in result["images"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running_registry(storage: Path, workdir: Path) -> Iterator[str]:
    """Debian's docker-registry (distribution 2.8) on 127.0.0.1 serving ``storage`` anonymously."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed: run .ci/run or scripts/install.sh")
    port = free_port()
    config = workdir / f"registry-{port}.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not _answers(address):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("docker-registry did not start")
            time.sleep(0.1)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _answers(address: str) -> bool:
    try:
        return httpx.get(f"http://{address}/v2/", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty anonymous docker-registry for the whole session."""
    root = tmp_path_factory.mktemp("registry")
    with running_registry(root / "data", root) as address:
        yield address


def tree_state(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``roots`` with its size and mtime (files only: SQLite may touch
    its directory when opening the index read-only), to prove nothing was changed."""
    state: dict[str, tuple[int, int]] = {}
    for root in roots:
        for path in sorted(root.rglob("*")) if root.exists() else []:
            st = path.lstat()
            state[str(path)] = (0, 0) if path.is_dir() else (st.st_size, st.st_mtime_ns)
    return state


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 over a directory the test fills: (base URL, root)."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def tgz(files: dict[str, bytes], executables: Container[str] | None = None) -> bytes:
    """A .tar.gz of ``files``; mode 0755 for ``executables`` (all when None), else 0644."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if executables is None or name in executables else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def image_files(layout: Path, ref: str, tmp: Path) -> dict[str, bytes]:
    """The regular files of an image in an OCI layout, copied out by skopeo, read by tarfile."""
    copied = tmp / "copied"
    copied.mkdir(parents=True)
    proc = subprocess.run(["skopeo", "copy", f"oci:{layout}:{ref}", f"dir:{copied}"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = {}
    for layer in json.loads((copied / "manifest.json").read_text())["layers"]:
        with tarfile.open(copied / layer["digest"].split(":")[1]) as tar:
            for member in tar:
                extracted = tar.extractfile(member) if member.isfile() else None
                if extracted is not None:
                    out[member.name] = extracted.read()
    return out
