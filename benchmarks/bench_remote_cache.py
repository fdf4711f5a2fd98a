#!/usr/bin/env python3
"""Benchmark: a fresh CI machine with a warm remote cache against a cold build.

A generated workspace of N apps x 2 platforms (default 200), offline: each app ships a
per-platform file downloaded from a static HTTP server on 127.0.0.1 (``kind: url``, random
bytes, ``--file-kb`` each), an image from a local Debian docker-registry (one of four seed
images, in ``registry/``), a Kubefile and three manifests. The same registry holds the
remote cache. Round by round, in this order (each on a fresh copy of the workspace with an
empty local cache):

  A cold          ``apply`` (no remote cache): the cold build time, the denominator
  A cold + push   ``apply --remote-cache R/cache-N --cache-push``: machine A filling the cache
  B layout        ``apply --remote-cache R/cache-N``: machine B writes the same out/ layout
                  (which needs every layer blob locally)
  B shard         ``apply --remote-cache R/cache-N --shard --push-to R/b-N``: machine B as a
                  CI shard, pushing each -<arch> image (layers are mounted from the cache
                  repository, not downloaded)

  (and A cold --shard: ``apply --shard --push-to R/a``, the cold peer of B shard)

Each round has a registry of its own. B must run no build step (only ``export``, resp.
``push``) and produce A's digests. Printed: medians, B / A-cold ratios (target <= 10 %), what
B moved (records and manifests vs blobs fetched by a request of their own; small blobs come
embedded in the look-ups; records come in one bundle per app version, step look-ups only for
what the bundles lack), and the load average.

Usage: python benchmarks/bench_remote_cache.py [--apps 200] [--rounds 2] [--file-kb 256] [--keep DIR]

``--keep DIR`` works in DIR and leaves everything there (registry data and its config, the
template workspace, every contender's workspace): ``docker-registry serve
DIR/registry-N/registry.yml`` serves the same cache again on the same port, so a copy of
``DIR/template-N`` (without its ``cache/``) replays machine B, e.g. under a profiler.
Needs docker-registry and skopeo (scripts/install.sh).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_env import run_as_installed

CLI = [sys.executable, "-m", "clusterbuild"]
TARGET = 0.10
SEEDS = 4
BUILD_KINDS = {"fetch", "pull", "registry", "layer", "image", "index"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def docker_registry(root: Path) -> Iterator[str]:
    binary = shutil.which("docker-registry")
    if binary is None:
        raise SystemExit("docker-registry is not installed: run scripts/install.sh")
    port = free_port()
    config = root / "registry.yml"
    config.write_text("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                      f"    rootdirectory: {root / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_server(root: Path) -> Iterator[str]:
    handler = lambda *a, **k: _Quiet(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def cli(*args: str) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"clusterbuild {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds, json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}


def seed_images(ws: Path, registry: str) -> list[str]:
    """SEEDS small images (one random 1 MB file each), built here and copied to the registry."""
    lines = ["registry: localhost/seed", "platforms: [linux/amd64, linux/arm64]", "apps:"]
    for n in range(SEEDS):
        app = ws / f"applications/img{n}/latest"
        app.mkdir(parents=True)
        (app / "data.bin").write_bytes(os.urandom(1 << 20))
        (app / "Kubefile").write_text("FROM scratch\nCOPY . .\n")
        lines += [f"  img{n}:", "    versions: [v1]"]
    (ws / "apps.yaml").write_text("\n".join(lines) + "\n")
    cli("apply", "-C", str(ws), "--json")
    refs = []
    for n in range(SEEDS):
        ref = f"{registry}/seed/img{n}:1"
        subprocess.run(["skopeo", "copy", "--all", "--dest-tls-verify=false",
                        f"oci:{ws / 'out'}:localhost/seed/img{n}:v1", f"docker://{ref}"],
                       check=True, capture_output=True)
        refs.append(ref)
    return refs


def workspace(root: Path, apps: int, files: Path, url: str, registry: str, seeds: list[str],
              file_kb: int) -> Path:
    """The workspace (its files are served from ``files``, written once)."""
    lines = ["registry: localhost/bench", "platforms: [linux/amd64, linux/arm64]",
             f"registries:\n  insecure: [\"{registry}\"]", "apps:"]
    for n in range(apps):
        name = f"app{n:03d}"
        for arch in ("amd64", "arm64"):
            if not (files / f"{name}-{arch}.bin").exists():
                (files / f"{name}-{arch}.bin").write_bytes(os.urandom(file_kb * 1024))
        app = root / "applications" / name / "latest"
        (app / "manifests").mkdir(parents=True)
        (app / "images/shim").mkdir(parents=True)
        for m in range(3):
            (app / f"manifests/m{m}.yaml").write_text(f"kind: ConfigMap\nmetadata:\n  name: {name}-{m}\n")
        (app / "images/shim/list").write_text(seeds[n % len(seeds)] + "\n")
        (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"kubectl apply -f manifests\"]\n")
        (app / "clusterbuild.yaml").write_text(
            "inputs:\n  - kind: url\n"
            f"    url: \"{url}/{name}-{{{{ arch }}}}.bin\"\n    dest: opt/tool\n"
            "images:\n  discover: \"off\"\n")
        lines += [f"  {name}:", "    versions: [v1]"]
    (root / "apps.yaml").write_text("\n".join(lines) + "\n")
    return root


def fresh(template: Path, target: Path) -> Path:
    shutil.copytree(template, target, symlinks=True)
    return target


def kinds(result: dict[str, Any]) -> set[str]:
    return {r["kind"] for r in result["ran"]}


def images(result: dict[str, Any]) -> dict[str, str]:
    return {i["ref"]: i["digest"] for i in result["images"]}


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def one_round(n: int, temp: Path, files: Path, url: str, apps: int, file_kb: int,
              keep: bool = False) -> dict[str, Any]:
    """One round on a registry of its own (no blob left by an earlier round helps this one)."""
    (temp / f"registry-{n}").mkdir()
    with docker_registry(temp / f"registry-{n}") as registry:
        seeds = seed_images(temp / f"seed-{n}", registry)
        template = workspace(temp / f"template-{n}", apps, files, url, registry, seeds, file_kb)
        cli("lock", "-C", str(template))  # the clone of a repository that commits apps.lock,
        shutil.rmtree(template / "cache")  # not the cache lock filled (every machine starts empty)
        out = contenders(n, temp, template, registry, temp / f"registry-{n}/data", keep)
    if not keep:
        shutil.rmtree(temp / f"registry-{n}")
    return out


def contenders(n: int, temp: Path, template: Path, registry: str, data: Path,
               keep: bool = False) -> dict[str, Any]:
    remote = f"{registry}/cache"
    out: dict[str, Any] = {}
    out["a_cold"], cold = cli("apply", "-C", str(fresh(template, temp / f"a{n}")), "--json")
    out["a_shard"], _ = cli("apply", "-C", str(fresh(template, temp / f"as{n}")), "--json",
                            "--shard", "--push-to", f"{registry}/a")
    before = tree_size(data)
    out["a_push"], pushed = cli("apply", "-C", str(fresh(template, temp / f"ap{n}")), "--json",
                                "--remote-cache", remote, "--cache-push")
    out["uploaded"] = tree_size(data) - before
    out["b_layout"], layout = cli("apply", "-C", str(fresh(template, temp / f"b{n}")), "--json",
                                  "--remote-cache", remote)
    out["b_shard"], shard = cli("apply", "-C", str(fresh(template, temp / f"bs{n}")), "--json",
                                "--remote-cache", remote, "--shard", "--push-to", f"{registry}/b")
    for name, result in (("B layout", layout), ("B shard", shard)):
        if kinds(result) & BUILD_KINDS:
            raise SystemExit(f"{name} ran build steps: {sorted(kinds(result))}")
        if result["warnings"]:
            raise SystemExit(f"{name} warned: {result['warnings'][:3]}")
    if images(layout) != images(cold) or images(pushed) != images(cold):
        raise SystemExit("B's layout does not hold A's digests")
    out["layout_traffic"], out["shard_traffic"] = layout["remote_cache"], shard["remote_cache"]
    out["a_uploads"] = pushed["remote_cache"]["uploads"]
    out["a_bundles"] = pushed["remote_cache"].get("bundle_uploads", 0)
    for name in (f"a{n}", f"as{n}", f"ap{n}", f"b{n}", f"bs{n}"):
        if not keep:
            shutil.rmtree(temp / name)
    return out


def mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def traffic(t: dict[str, Any]) -> str:
    blob_bytes = t.get("blob_bytes", 0)
    return (f"{t['records']} records ({t.get('bundles', 0)} bundles, {t.get('lookups', 0)} look-ups "
            f"by step) + manifests {mib(t['bytes'] - blob_bytes)}, {t['blobs']} blobs {mib(blob_bytes)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--file-kb", type=int, default=256)
    parser.add_argument("--keep", type=Path, help="work in this (new) directory and keep it")
    args = parser.parse_args()
    keys = ("a_cold", "a_shard", "a_push", "b_layout", "b_shard")
    with ExitStack() as stack:
        if args.keep is not None:
            args.keep.mkdir(parents=True)
            temp = args.keep.resolve()
        else:
            temp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-remote-cache-")))
        run_as_installed(temp)
        (temp / "files").mkdir()
        with static_server(temp / "files") as url:
            rounds = []
            for n in range(args.rounds):
                rounds.append(one_round(n, temp, temp / "files", url, args.apps, args.file_kb,
                                        args.keep is not None))
                print(f"round {n + 1}: " + "  ".join(f"{k} {rounds[-1][k]:.2f} s" for k in keys)
                      + f"  (load {os.getloadavg()[0]:.2f})", flush=True)
    med = {k: statistics.median(r[k] for r in rounds) for k in keys}
    last = rounds[-1]
    print(f"\n{args.apps} apps x 2 platforms, {args.file_kb} KiB file per app and platform, "
          f"{SEEDS} shipped seed images; median of {args.rounds} rounds; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"  A cold apply                      {med['a_cold']:7.2f} s")
    print(f"  A cold apply --shard --push-to    {med['a_shard']:7.2f} s")
    print(f"  A cold apply + cache push         {med['a_push']:7.2f} s  ({last['a_uploads']} records, "
          f"{last['a_bundles']} bundles, {mib(last['uploaded'])} written to the registry)")
    for key, cold, label, t in (("b_layout", "a_cold", "B apply (out/ layout)", last["layout_traffic"]),
                                ("b_shard", "a_shard", "B apply --shard --push-to", last["shard_traffic"])):
        ratio = med[key] / med[cold]
        print(f"  {label:<33} {med[key]:7.2f} s  = {ratio:6.1%} of A's cold {cold}  "
              f"(target <= {TARGET:.0%}: {'PASS' if ratio <= TARGET else 'MISS'}); moved {traffic(t)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
