#!/usr/bin/env python3
"""Benchmark: clusterbuild against buildah (what `sealos build` runs) on a ~400 MB app.

What is built
    A throw-away workspace with one app, ``bench`` (registry ``localhost/bench``,
    platforms ``[linux/amd64]``), whose ``applications/bench/latest/`` context is
    ``--size-mb`` MB (10^6 bytes) of files:

    * ~40 incompressible random blobs of varying size under
      ``registry/docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data`` (almost all of
      the bytes; named by their real sha256, written 1 MiB at a time);
    * ~200 small YAML files under ``manifests/`` and ``charts/x/templates/``;
    * ``Kubefile`` (``FROM scratch`` / ``COPY . .`` / ``CMD ["bash entrypoint.sh"]``)
      and ``entrypoint.sh``.

What is measured (each contender ``--runs`` times, round-robin, median reported)
    a. clusterbuild cold: ``clusterbuild apply --json`` with a fresh, empty
       ``--cache-dir`` and no ``out/``.
    b. clusterbuild no-op: the same command again, cache warm and nothing changed;
       the JSON must say ``"ran": []``.
    c. buildah (the peer): ``buildah bud --isolation chroot --timestamp 0`` then
       ``buildah push ... oci:<dir>:bench``, both with ``--storage-driver vfs`` and a
       private ``--root``/``--runroot`` that is deleted after every run. The time is
       bud + push; the RSS is the larger of the two.
    d. The floor: ``tar -cf - . | sha256sum`` in the context (read everything once,
       hash everything once).

How
    * Wall time: ``time.perf_counter()`` around spawning the command and reaping it.
    * Peak RSS: ``ru_maxrss`` of the ``rusage`` that ``os.wait4()`` returns for the
      command. Linux reports the *largest single process* among the command and the
      descendants it reaped, not a sum over the tree. That is the right number here:
      clusterbuild is one process (its jobs are threads), buildah bud/push run no
      RUN steps, and the floor is two small processes.
    * Fair page cache: before every timed run (untimed) the script runs ``sync`` so
      no earlier run's writeback lands inside the next measurement, then the same
      ``find <context> -type f -exec cat {} +`` to /dev/null, so every contender
      starts with the context in the page cache.
    * Setup and clean-up (emptying caches, deleting buildah storage) are untimed.

Targets (printed as PASS/MISS; the exit code is 0 regardless, this is a report)
    cold <= 0.3 x buildah; no-op <= 0.05 x buildah; clusterbuild peak RSS < 200 MB
    (the largest over all cold and no-op runs); cold/floor is informational.

Usage: python benchmarks/bench_build.py [--size-mb 400] [--runs 3] [--keep DIR]
Standard library only. Run as root (buildah with chroot isolation needs it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

MB = 1_000_000
CHUNK = 1 << 20  # bytes of os.urandom written at a time
BLOB_COUNT = 40
PLATFORM = "linux/amd64"
TARGET_COLD = 0.30  # cold / buildah
TARGET_NOOP = 0.05  # no-op / buildah
TARGET_RSS_MB = 200.0

KUBEFILE = 'FROM scratch\nCOPY . .\nCMD ["bash entrypoint.sh"]\n'
ENTRYPOINT = """#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
kubectl apply -f manifests/
helm upgrade --install x charts/x
"""
APPS_YAML = """registry: localhost/bench
platforms: [linux/amd64]
output:
  layout: out
apps:
  bench:
    versions: ["latest"]
"""


# --------------------------------------------------------------------------- data


def write_random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path`` in chunks; return their sha256 hex."""
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(CHUNK, left))
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def blob_sizes(total: int, count: int, rng: random.Random) -> list[int]:
    """``count`` varying (log-normal) sizes that add up to exactly ``total``."""
    weights = [rng.lognormvariate(0.0, 1.0) for _ in range(count)]
    scale = total / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    sizes[-1] += total - sum(sizes)
    return sizes


def write_blobs(context: Path, total: int, rng: random.Random) -> None:
    """Random blobs laid out like a registry's storage, named by their digest."""
    blobs = context / "registry/docker/registry/v2/blobs/sha256"
    staging = context / "registry/.staging"
    for size in blob_sizes(total, BLOB_COUNT, rng):
        hexdigest = write_random_file(staging, size)
        target = blobs / hexdigest[:2] / hexdigest / "data"
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(target)


def small_yaml(kind: str, index: int, rng: random.Random) -> str:
    """A small, plausible Kubernetes object of 0.5-3 KB."""
    data = "\n".join(f'  key-{k}: "{rng.getrandbits(128):032x}"' for k in range(rng.randint(8, 60)))
    return (
        f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: bench-{index:03d}\n"
        f"  labels:\n    app: bench\ndata:\n{data}\n"
    )


def write_small_files(context: Path, rng: random.Random) -> int:
    """~200 YAML files plus Kubefile and entrypoint.sh; return their total size."""
    files = {"Kubefile": KUBEFILE, "entrypoint.sh": ENTRYPOINT}
    for i in range(120):
        files[f"manifests/{i:03d}-configmap.yaml"] = small_yaml("ConfigMap", i, rng)
    files["charts/x/Chart.yaml"] = "apiVersion: v2\nname: x\nversion: 0.1.0\n"
    files["charts/x/values.yaml"] = "replicas: 1\n"
    for i in range(78):
        files[f"charts/x/templates/{i:03d}.yaml"] = small_yaml("Secret", i, rng)
    for name, text in files.items():
        path = context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (context / "entrypoint.sh").chmod(0o755)
    return sum(len(text.encode()) for text in files.values())


def generate_workspace(workspace: Path, size_mb: float) -> Path:
    """Create the workspace (or reuse one made earlier); return the app context."""
    context = workspace / "applications/bench/latest"
    if (workspace / "apps.yaml").is_file() and (context / "Kubefile").is_file():
        print(f"reusing workspace {workspace} (--size-mb is ignored)")
        return context
    print(f"generating a {size_mb:g} MB workspace in {workspace} ...", flush=True)
    started = time.perf_counter()
    rng = random.Random(20240101)
    context.mkdir(parents=True, exist_ok=True)
    (workspace / "apps.yaml").write_text(APPS_YAML)
    small = write_small_files(context, rng)
    write_blobs(context, max(BLOB_COUNT, int(size_mb * MB) - small), rng)
    print(f"  done in {time.perf_counter() - started:.1f}s", flush=True)
    return context


def tree_stats(*roots: Path) -> tuple[int, int]:
    """(files, bytes) under ``roots``; a hardlinked file is counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root in roots:
        for path in root.rglob("*"):
            info = path.lstat()
            key = (info.st_dev, info.st_ino)
            if stat.S_ISREG(info.st_mode) and key not in seen:
                seen.add(key)
                total += info.st_size
    return len(seen), total


# -------------------------------------------------------------------- measuring


@dataclass
class Sample:
    wall: float
    rss_mb: float
    error: str | None = None


@dataclass
class Result:
    name: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def good(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None]

    def median_wall(self) -> float | None:
        return statistics.median(s.wall for s in self.good) if self.good else None

    def median_rss(self) -> float | None:
        return statistics.median(s.rss_mb for s in self.good) if self.good else None


def run_measured(cmd: list[str], cwd: Path, log: Path) -> tuple[Sample, str]:
    """Run ``cmd``; return (wall time + peak RSS, its stdout). Output goes to ``log``."""
    with open(log, "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
    stdout = log.read_text(errors="replace")
    error = None
    if proc.returncode != 0:
        tail = log.with_suffix(".err").read_text(errors="replace")[-800:]
        error = f"{cmd[0]} {cmd[1]} exited {proc.returncode}: {tail.strip()}"
    return Sample(wall, usage.ru_maxrss * 1024 / MB, error), stdout


def settle_page_cache(context: Path) -> None:
    """Untimed: flush pending writes, then read the whole context once (warm cache)."""
    subprocess.run(["sync"], check=True)
    subprocess.run(
        ["find", str(context), "-type", "f", "-exec", "cat", "{}", "+"],
        stdout=subprocess.DEVNULL,
        check=True,
    )


def remove(*paths: Path) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------ contenders


@dataclass
class Setup:
    clusterbuild: str
    buildah: str
    workspace: Path
    context: Path
    scratch: Path

    @property
    def cache(self) -> Path:
        return self.scratch / "clusterbuild-cache"

    def apply_cmd(self) -> list[str]:
        return [
            self.clusterbuild,
            "apply",
            "-C",
            str(self.workspace),
            "--cache-dir",
            str(self.cache),
            "--json",
            "--platform",
            PLATFORM,
        ]


def check_apply(sample: Sample, stdout: str, want_noop: bool) -> Sample:
    """Mark the sample failed if clusterbuild's JSON does not say what we expect."""
    if sample.error:
        return sample
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        sample.error = f"no JSON on stdout: {stdout[:300]!r}"
        return sample
    ran = [step.get("slot") for step in report.get("ran", [])]
    if want_noop and ran:
        sample.error = f"no-op apply ran steps: {ran}"
    elif not want_noop and not report.get("images"):
        sample.error = "cold apply reported no images"
    return sample


def clusterbuild_cold(setup: Setup) -> Sample:
    remove(setup.cache, setup.workspace / "out")
    setup.cache.mkdir(parents=True)
    settle_page_cache(setup.context)
    sample, stdout = run_measured(setup.apply_cmd(), setup.workspace, setup.scratch / "cold.log")
    return check_apply(sample, stdout, want_noop=False)


def clusterbuild_noop(setup: Setup) -> Sample:
    settle_page_cache(setup.context)
    sample, stdout = run_measured(setup.apply_cmd(), setup.workspace, setup.scratch / "noop.log")
    return check_apply(sample, stdout, want_noop=True)


def buildah_build(setup: Setup) -> Sample:
    """bud + push with private vfs storage; time is the sum, RSS the max."""
    storage, out = setup.scratch / "buildah-storage", setup.scratch / "buildah-out"
    remove(storage, out)
    base = [
        setup.buildah,
        "--root",
        str(storage / "root"),
        "--runroot",
        str(storage / "run"),
        "--storage-driver",
        "vfs",
    ]
    bud = [
        *base,
        "bud",
        "--isolation",
        "chroot",
        "--timestamp",
        "0",
        "-f",
        str(setup.context / "Kubefile"),
        "-t",
        "bench:latest",
        str(setup.context),
    ]
    push = [*base, "push", "bench:latest", f"oci:{out}:bench"]
    settle_page_cache(setup.context)
    first, _ = run_measured(bud, setup.context, setup.scratch / "bud.log")
    if first.error:
        remove(storage)
        return first
    second, _ = run_measured(push, setup.context, setup.scratch / "push.log")
    remove(storage)  # keep buildah-out until the next run, for the size report
    return Sample(first.wall + second.wall, max(first.rss_mb, second.rss_mb), second.error)


def floor(setup: Setup) -> Sample:
    settle_page_cache(setup.context)
    cmd = ["bash", "-o", "pipefail", "-c", "tar -cf - . | sha256sum"]
    sample, _ = run_measured(cmd, setup.context, setup.scratch / "floor.log")
    return sample


CONTENDERS = [
    ("clusterbuild cold", clusterbuild_cold),
    ("clusterbuild no-op", clusterbuild_noop),
    ("buildah bud+push", buildah_build),
    ("floor tar|sha256sum", floor),
]


def run_all(setup: Setup, runs: int) -> dict[str, Result]:
    """Round-robin: each round runs every contender once (no-op follows cold)."""
    results = {name: Result(name) for name, _ in CONTENDERS}
    for round_no in range(1, runs + 1):
        for name, contender in CONTENDERS:
            sample = contender(setup)
            results[name].samples.append(sample)
            status = "FAILED: " + sample.error if sample.error else "ok"
            print(
                f"  run {round_no}/{runs} {name:<20} {sample.wall:8.2f}s {sample.rss_mb:8.1f} MB  {status}",
                flush=True,
            )
    return results


# --------------------------------------------------------------------- report


def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def print_table(results: dict[str, Result]) -> None:
    print()
    print(f"{'contender':<22}{'wall s (median)':>16}{'peak RSS MB':>13}   wall s per run")
    print("-" * 78)
    for result in results.values():
        runs = " ".join(f"{s.wall:.2f}" if s.error is None else "FAIL" for s in result.samples)
        print(
            f"{result.name:<22}{fmt(result.median_wall(), '.2f'):>16}"
            f"{fmt(result.median_rss(), '.1f'):>13}   {runs}"
        )


def verdict(value: float | None, limit: float, strict: bool = False) -> str:
    if value is None:
        return "MISS (no data)"
    ok = value < limit if strict else value <= limit
    return "PASS" if ok else "MISS"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def print_targets(results: dict[str, Result]) -> None:
    cold = results["clusterbuild cold"].median_wall()
    noop = results["clusterbuild no-op"].median_wall()
    peer = results["buildah bud+push"].median_wall()
    base = results["floor tar|sha256sum"].median_wall()
    cb_samples = results["clusterbuild cold"].good + results["clusterbuild no-op"].good
    rss = max((s.rss_mb for s in cb_samples), default=None)
    rows = [
        (
            "cold / buildah",
            fmt(ratio(cold, peer), ".3f"),
            f"<= {TARGET_COLD}x",
            verdict(ratio(cold, peer), TARGET_COLD),
        ),
        (
            "no-op / buildah",
            fmt(ratio(noop, peer), ".3f"),
            f"<= {TARGET_NOOP}x",
            verdict(ratio(noop, peer), TARGET_NOOP),
        ),
        (
            "clusterbuild peak RSS MB",
            fmt(rss, ".1f"),
            f"< {TARGET_RSS_MB:g}",
            verdict(rss, TARGET_RSS_MB, strict=True),
        ),
        ("cold / floor", fmt(ratio(cold, base), ".2f"), "(info)", ""),
    ]
    print()
    print(f"{'target':<26}{'value':>10}  {'goal':<10}{'result'}")
    print("-" * 56)
    for name, value, goal, result in rows:
        print(f"{name:<26}{value:>10}  {goal:<10}{result}")


def print_outputs(setup: Setup) -> None:
    """Sizes of what the last runs wrote, to explain differences (e.g. compression)."""
    out = setup.workspace / "out"
    for label, roots in [
        ("clusterbuild out/", [out]),
        ("clusterbuild out/ + cache", [out, setup.cache]),  # hardlinks counted once
        ("buildah oci out", [setup.scratch / "buildah-out"]),
    ]:
        count, size = tree_stats(*roots)
        print(f"  {label:<26} {size / MB:9.1f} MB in {count} distinct files")


# ----------------------------------------------------------------------- main


def find_tool(name: str, fallback: str) -> str:
    sibling = Path(sys.executable).parent / name
    if sibling.is_file():
        return str(sibling)
    return shutil.which(name) or fallback


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size-mb", type=float, default=400.0, help="context size in MB (10^6 bytes); default 400"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per contender")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="generate (or reuse) the workspace in DIR and keep it"
    )
    parser.add_argument("--clusterbuild", default=find_tool("clusterbuild", "/tmp/venv/bin/clusterbuild"))
    parser.add_argument("--buildah", default=shutil.which("buildah") or "/usr/bin/buildah")
    return parser.parse_args(argv)


def describe(setup: Setup, runs: int) -> None:
    count, size = tree_stats(setup.context)
    print(f"context: {count} files, {size / MB:.1f} MB ({size / 2**20:.1f} MiB)")
    print(f"clusterbuild: {setup.clusterbuild}   buildah: {setup.buildah}")
    print(f"runs: {runs} per contender, round-robin; medians reported")
    print(
        "page cache: before every timed run, untimed `sync` + the same "
        "`find CONTEXT -type f -exec cat {} +` > /dev/null for every contender (warm)"
    )
    print(
        "peak RSS: ru_maxrss from os.wait4() on each command = largest single "
        "process in its tree; buildah = max(bud, push); MB = 10^6 bytes"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-build-"))
    workspace = args.keep.resolve() if args.keep else scratch / "workspace"
    try:
        context = generate_workspace(workspace, args.size_mb)
        setup = Setup(args.clusterbuild, args.buildah, workspace, context, scratch)
        describe(setup, args.runs)
        results = run_all(setup, args.runs)
        print_table(results)
        print_targets(results)
        print("\noutputs of the last run:")
        print_outputs(setup)
    finally:
        remove(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
