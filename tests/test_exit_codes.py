"""Every exit code the README documents is produced by the real CLI, and no other."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import REPO, cli, copy_workspace

pytestmark = pytest.mark.slow


def documented_codes() -> set[int]:
    text = " ".join((REPO / "README.md").read_text().split())
    sentence = text[text.index("Exit codes:"):].split(". ", 1)[0]
    return {int(code) for code in re.findall(r"(?<![\w.])(\d+) [a-z(]", sentence)}


@pytest.fixture
def stalling() -> Iterator[tuple[str, list[float]]]:
    """A server that sends headers, then nothing: a download that is under way until stopped."""
    seen: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"\0" * 1000)
            time.sleep(30)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _with_url_input(ws: Path, url: str) -> None:
    app = ws / "applications/remote/latest"
    app.mkdir(parents=True)
    (app / "Kubefile").write_text("FROM scratch\nCOPY . .\n")
    (app / "clusterbuild.yaml").write_text(f"inputs:\n  - kind: url\n    url: {url}\n    dest: opt/x\n")
    (ws / "apps.yaml").write_text((ws / "apps.yaml").read_text() + "  remote:\n    versions: [\"v1\"]\n")


def _code_of_signal(ws: Path, seen: list[float], signum: int) -> int:
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERBUILD_CACHE_DIR"}
    proc = subprocess.Popen([sys.executable, "-m", "clusterbuild", "apply", "-C", str(ws), "remote"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen, "the download never started"
    time.sleep(0.3)
    proc.send_signal(signum)
    proc.communicate(timeout=30)
    seen.clear()
    return proc.returncode


def test_every_documented_exit_code(tmp_path: Path, static_server: tuple[str, Path],
                                    stalling: tuple[str, list[float]], registry: str) -> None:
    produced: dict[int, str] = {}
    ws = copy_workspace(tmp_path / "ws")

    assert cli("plan", "-C", str(ws)).returncode == 0
    produced[0] = "plan of the example"

    failing = textwrap.dedent("""
        import sys
        from clusterbuild.cli import main
        @main.app.command("explode")
        def explode() -> None:
            raise RuntimeError("a bug")
        sys.argv = ["clusterbuild", "explode"]
        main.main()
    """)
    bug = subprocess.run([sys.executable, "-c", failing], capture_output=True, text=True)
    assert bug.returncode == 1 and "unexpected RuntimeError: a bug (rerun with --debug" in bug.stderr
    produced[1] = "an exception that is no clusterbuild error (a bug)"

    usage = cli("plan", "-C", str(ws), "--no-such-option", check=False)
    platform = cli("plan", "-C", str(ws), "--platform", "linux/s390x", check=False)
    assert usage.returncode == platform.returncode == 2 and "linux/amd64, linux/arm64" in platform.stderr
    produced[2] = "unknown option; a --platform no app builds for"

    bad = copy_workspace(tmp_path / "bad")
    (bad / "apps.yaml").write_text((bad / "apps.yaml").read_text() + "colour: blue\n")
    proc = cli("plan", "-C", str(bad), check=False)
    assert proc.returncode == 3 and "apps.yaml" in proc.stderr and "colour" in proc.stderr
    produced[3] = "an unknown key in apps.yaml"

    url, _ = static_server
    missing = copy_workspace(tmp_path / "missing")
    _with_url_input(missing, f"{url}/nothing-here.tgz")
    proc = cli("apply", "-C", str(missing), "remote", check=False)
    assert proc.returncode == 4 and "404" in proc.stderr
    produced[4] = "a download answered 404"

    cli("apply", "-C", str(ws))
    (ws / "cache/index/cache.db").write_bytes(b"not a database")
    proc = cli("plan", "-C", str(ws), check=False)
    assert proc.returncode == 5 and "corrupt" in proc.stderr
    produced[5] = "a corrupt cache index"

    unsigned = copy_workspace(tmp_path / "unsigned")
    cli("apply", "-C", str(unsigned), "hello-tools", "--push-to", f"{registry}/exit6",
        "--insecure-registry", registry)
    key = tmp_path / "key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(tmp_path / "pub.pem")],
                   check=True, capture_output=True)
    proc = cli("verify", f"{registry}/exit6/hello-tools:v1.0.0", "--key", str(tmp_path / "pub.pem"),
               "--insecure-registry", registry, check=False)
    assert proc.returncode == 6 and "not signed" in proc.stderr
    produced[6] = "verify of an image that is not signed"

    stalled_url, seen = stalling
    slow = copy_workspace(tmp_path / "slow")
    _with_url_input(slow, f"{stalled_url}/big.bin")
    assert _code_of_signal(slow, seen, signal.SIGINT) == 130
    produced[130] = "Ctrl-C during a download"
    assert _code_of_signal(slow, seen, signal.SIGTERM) == 143
    produced[143] = "SIGTERM during a download"

    assert set(produced) == documented_codes(), (produced, documented_codes())
