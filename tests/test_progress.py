"""Live progress on a real terminal (tmux), plain lines without one, JSON events for CI: a
throttled local server serves a 40 MB input at 2.5 MB/s."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import copy_workspace

pytestmark = pytest.mark.slow

RATE = 2_500_000  # bytes per second
CHUNK = 64 * 1024


class Throttled:
    """An HTTP server sending ``size`` zero bytes at ``RATE``; remembers when each GET came."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.requests: list[float] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(owner.size))
                self.end_headers()
                sent, start = 0, time.monotonic()
                try:
                    while sent < owner.size:
                        n = min(CHUNK, owner.size - sent)
                        self.wfile.write(b"\0" * n)
                        sent += n
                        time.sleep(max(0.0, sent / RATE - (time.monotonic() - start)))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/big.bin"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def big_input(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, Throttled]]:
    server = Throttled(getattr(request, "param", 40_000_000))
    ws = copy_workspace(tmp_path / "ws")
    app = ws / "applications/big/latest"
    app.mkdir(parents=True)
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"true\"]\n")
    (app / "clusterbuild.yaml").write_text(f"inputs:\n  - kind: url\n    url: {server.url}\n"
                                           "    dest: opt/big.bin\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  big:\n    versions: [\"v1\"]\n"
                                  "    platforms: [linux/amd64]\n")
    yield ws, server
    server.close()


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("CI", "CLUSTERBUILD_CACHE_DIR")}


def test_terminal_shows_bytes_and_rate_within_a_second(big_input: tuple[Path, Throttled],
                                                       tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: run scripts/install.sh")
    ws, server = big_input
    session = f"cb{os.getpid()}"
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "clusterbuild", "apply", "-C",
                                                str(ws), "big"])
    socket = ["-S", str(tmp_path / "tmux.sock")]
    subprocess.run(["tmux", *socket, "new-session", "-d", "-s", session, "-x", "150", "-y", "30",
                    f"{command}; sleep 60"], check=True, env=_env())
    try:
        seen, screen = None, ""
        deadline = time.monotonic() + 60
        while seen is None and time.monotonic() < deadline:
            screen = subprocess.run(["tmux", *socket, "capture-pane", "-p", "-t", session],
                                    capture_output=True, text=True, check=True).stdout
            if re.search(r"\d+(\.\d+)?/40\.0 MB", screen) and re.search(r"\d+(\.\d+)? [kM]B/s", screen):
                seen = time.monotonic()
            time.sleep(0.05)
        assert seen is not None and server.requests, screen
        assert seen - server.requests[0] < 1.0, (seen - server.requests[0], screen)
        assert "big.bin" in screen and "resolving inputs" in screen  # pinning: the URL is fetched
    finally:
        subprocess.run(["tmux", *socket, "kill-server"], check=False)


@pytest.mark.parametrize("big_input", [3_000_000], indirect=True)
def test_without_a_terminal_the_output_is_plain_lines(big_input: tuple[Path, Throttled]) -> None:
    ws, _ = big_input
    proc = subprocess.run([sys.executable, "-m", "clusterbuild", "apply", "-C", str(ws), "big"],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\r" not in proc.stdout
    lines = proc.stdout.splitlines()
    assert "resolving inputs..." in lines
    assert any(re.match(r"  ↓ http://127\.0\.0\.1:\d+/big\.bin  2\.9 MiB in \d\.\ds \(.* MiB/s\)$", line)
               for line in lines), proc.stdout
    table = lines.index(next(line for line in lines if line.startswith("app ")))
    assert lines[table].split() == ["app", "version", "platforms", "digest", "size", "time"]
    assert lines[table + 1].split()[:3] == ["big", "v1", "linux/amd64"]


@pytest.mark.parametrize("big_input", [1_000_000], indirect=True)
def test_json_events_stream_one_object_per_line(big_input: tuple[Path, Throttled]) -> None:
    ws, _ = big_input
    proc = subprocess.run([sys.executable, "-m", "clusterbuild", "apply", "-C", str(ws), "big",
                           "--json-events"], capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {e["version"] for e in events} == {1}
    kinds = [e["event"] for e in events]
    assert kinds[0] == "phase" and kinds[-1] == "summary"
    assert {"transfer-started", "transfer-progress", "transfer-finished", "step-finished"} <= set(kinds)
    progress = [e["data"] for e in events if e["event"] == "transfer-progress"]
    assert progress[-1]["total"] == 1_000_000 and all(p["rate"] > 0 for p in progress)
    done = next(e["data"] for e in events if e["event"] == "transfer-finished")
    assert done["done"] == 1_000_000
    summary = events[-1]["data"]
    assert any(i["ref"] == "docker.io/labring/big:v1" for i in summary["images"])
