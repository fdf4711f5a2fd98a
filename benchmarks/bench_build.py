#!/usr/bin/env python3
"""Benchmark: clusterbuild against buildah (what `sealos build` runs) on a ~400 MB app.

What is built
    A throw-away workspace with one app, ``bench`` (registry ``localhost/bench``,
    platforms ``[linux/amd64]``), whose ``applications/bench/latest/`` context is
    ``--size-mb`` MB (10^6 bytes) of files, in one of two shapes (``--context``):

    * ``registry`` (default): ~40 incompressible random blobs of varying size under
      ``registry/docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data`` (almost all of the
      bytes; named by their real sha256), which clusterbuild stores uncompressed;
    * ``opt``: ~14 generated binaries under ``opt/bin/`` (machine-code-like: a token
      stream with random stretches; level-1 gzip leaves ~55 %, as real binaries ~45 %),
      which every contender gzips;

    plus, in both, ~200 small YAML files under ``manifests/`` and ``charts/x/templates/``,
    ``Kubefile`` (``FROM scratch`` / ``COPY . .`` / ``CMD ["bash entrypoint.sh"]``) and
    ``entrypoint.sh``.

What is measured (each contender ``--runs`` times, round-robin, median reported)
    a. clusterbuild cold: ``clusterbuild apply --json`` with an empty ``--cache-dir``, no ``out/``.
    b. clusterbuild no-op: the same command again; the JSON must say ``"ran": []``.
    c. buildah cold (the peer): ``buildah bud --isolation chroot --timestamp 0`` then
       ``buildah push ... oci:<dir>:bench``, ``--storage-driver vfs``, private storage
       deleted after every run. Time: bud + push; RSS: the larger of the two.
    d. buildah --layers no-op: the same with ``--layers`` on storage kept warm across
       rounds (filled once, untimed), nothing changed, then the push.
    e. one YAML touched: ``manifests/000-configmap.yaml`` rewritten, then clusterbuild
       apply (its cache warm), and buildah ``--layers`` + push (its storage warm), each once
       per round on the same edit.
    f. Floors, each reading the whole context once: sha256 with hashlib; ``tar -cf - . |
       openssl dgst -sha256``; read + hash + write (hashlib, and every byte written once
       to a scratch dir), the cold floor of a context that is stored as is.

How
    * Wall time: ``time.perf_counter()`` around spawning the command and reaping it.
    * Peak RSS: ``ru_maxrss`` of the ``rusage`` that ``os.wait4()`` returns for the
      command: the *largest single process* among the command and the descendants it
      reaped (clusterbuild is one process; its jobs are threads).
    * Fair page cache: before every timed run (untimed) ``sync`` and the same ``find
      <context> -type f -exec cat {} +`` to /dev/null: every contender starts warm.
    * Setup and clean-up (emptying caches, deleting buildah storage) are untimed.

Targets (printed as PASS/MISS; the exit code is 0 regardless, this is a report)
    opt/: cold <= 0.6 x buildah cold; one YAML touched <= 0.05 x buildah --layers on the
    same edit. registry/: cold <= 2 x the read+hash+write floor. Both: no-op <= 0.05 x
    buildah --layers no-op; clusterbuild peak RSS < 200 MB.

Usage: python benchmarks/bench_build.py [--context registry|opt] [--size-mb 400] [--runs 3] [--keep DIR]
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MB = 1_000_000
CHUNK = 1 << 20  # bytes of os.urandom written at a time
BLOB_COUNT = 40
PLATFORM = "linux/amd64"
TARGET_COLD_OPT = 0.6  # opt/ context: cold / buildah cold
TARGET_EDIT = 0.05  # one YAML touched / buildah --layers on the same edit
TARGET_COLD_FLOOR = 2.0  # registry/ context: cold / read+hash+write floor
TARGET_NOOP = 0.05  # no-op / buildah --layers no-op
TARGET_RSS_MB = 200.0
EDITED = "manifests/000-configmap.yaml"
BINARY_COUNT = 14

sys.path.insert(0, str(Path(__file__).parent))
from bench_env import run_as_installed  # noqa: E402

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


def binary_pool(rng: random.Random) -> bytes:
    """~7 MB of machine-code-like bytes: short tokens with a skewed frequency."""
    tokens = [rng.randbytes(rng.randint(1, 8)) for _ in range(1024)]
    weights = [1 / (i + 1) for i in range(len(tokens))]
    return b"".join(rng.choices(tokens, weights, k=1_500_000))


def write_binaries(context: Path, total: int, rng: random.Random) -> None:
    """Generated binaries under opt/bin/: stretches of the pool, a fifth of them random."""
    pool = binary_pool(rng)
    for n, size in enumerate(blob_sizes(total, BINARY_COUNT, rng)):
        path = context / f"opt/bin/tool-{n:02d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            out.write(f"tool {n}\n".encode())
            left = size - out.tell()
            while left > 0:
                length = min(left, rng.randint(4096, 65536))
                if rng.random() < 0.2:
                    out.write(os.urandom(length))
                else:
                    start = rng.randrange(0, len(pool) - length)
                    out.write(pool[start:start + length])
                left -= length
        path.chmod(0o755)


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


def generate_workspace(workspace: Path, size_mb: float, shape: str) -> Path:
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
    big = max(BLOB_COUNT, int(size_mb * MB) - small)
    if shape == "opt":
        write_binaries(context, big, rng)
    else:
        write_blobs(context, big, rng)
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
    edits: int = 0

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


def touch_yaml(setup: Setup) -> Sample:
    """Untimed: rewrite one small YAML (a new value every round)."""
    path = setup.context / EDITED
    setup.edits += 1
    path.write_text(path.read_text().split("# edit")[0] + f"# edit {setup.edits}\n")
    return Sample(0.0, 0.0)


def clusterbuild_edit(setup: Setup) -> Sample:
    settle_page_cache(setup.context)
    sample, stdout = run_measured(setup.apply_cmd(), setup.workspace, setup.scratch / "edit.log")
    return check_apply(sample, stdout, want_noop=False)


def buildah_cmds(setup: Setup, storage: Path, layers: bool) -> tuple[list[str], list[str]]:
    base = [setup.buildah, "--root", str(storage / "root"), "--runroot", str(storage / "run"),
            "--storage-driver", "vfs"]
    bud = [*base, "bud", "--isolation", "chroot", "--timestamp", "0", *(["--layers"] if layers else []),
           "-f", str(setup.context / "Kubefile"), "-t", "bench:latest", str(setup.context)]
    return bud, [*base, "push", "bench:latest", f"oci:{setup.scratch / 'buildah-out'}:bench"]


def _bud_push(setup: Setup, storage: Path, layers: bool) -> Sample:
    bud, push = buildah_cmds(setup, storage, layers)
    remove(setup.scratch / "buildah-out")
    settle_page_cache(setup.context)
    first, _ = run_measured(bud, setup.context, setup.scratch / "bud.log")
    if first.error:
        return first
    second, _ = run_measured(push, setup.context, setup.scratch / "push.log")
    return Sample(first.wall + second.wall, max(first.rss_mb, second.rss_mb), second.error)


def buildah_build(setup: Setup) -> Sample:
    """bud + push with private vfs storage, deleted after the run."""
    storage = setup.scratch / "buildah-storage"
    remove(storage)
    try:
        return _bud_push(setup, storage, layers=False)
    finally:
        remove(storage)  # keep buildah-out until the next run, for the size report


def buildah_layers(setup: Setup) -> Sample:
    """bud --layers + push on storage kept warm across rounds (filled untimed first)."""
    storage = setup.scratch / "buildah-layers"
    if not storage.exists():
        bud, _ = buildah_cmds(setup, storage, layers=True)
        subprocess.run(bud, cwd=setup.context, check=True, capture_output=True)
    return _bud_push(setup, storage, layers=True)


READ_HASH = """
import hashlib, os, sys
for root, _, names in os.walk(sys.argv[1]):
    for name in names:
        digest = hashlib.sha256()
        with open(os.path.join(root, name), "rb") as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
"""
READ_HASH_WRITE = """
import hashlib, os, sys
count = 0
for root, _, names in os.walk(sys.argv[1]):
    for name in names:
        digest, count = hashlib.sha256(), count + 1
        with open(os.path.join(root, name), "rb") as src, \\
                open(os.path.join(sys.argv[2], str(count)), "wb") as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
"""


def floor_hashlib(setup: Setup) -> Sample:
    settle_page_cache(setup.context)
    sample, _ = run_measured([sys.executable, "-c", READ_HASH, str(setup.context)], setup.context,
                             setup.scratch / "floor.log")
    return sample


def floor_openssl(setup: Setup) -> Sample:
    settle_page_cache(setup.context)
    cmd = ["bash", "-o", "pipefail", "-c", "tar -cf - . | openssl dgst -sha256"]
    sample, _ = run_measured(cmd, setup.context, setup.scratch / "floor.log")
    return sample


def floor_read_hash_write(setup: Setup) -> Sample:
    out = setup.scratch / "floor-copy"
    remove(out)
    out.mkdir()
    settle_page_cache(setup.context)
    sample, _ = run_measured([sys.executable, "-c", READ_HASH_WRITE, str(setup.context), str(out)],
                             setup.context, setup.scratch / "floor.log")
    subprocess.run(["sync"], check=True)  # its writeback is not the next contender's
    remove(out)
    return sample


COLD, NOOP, EDIT = "clusterbuild cold", "clusterbuild no-op", "clusterbuild 1 YAML"
PEER, PEER_NOOP, PEER_EDIT = "buildah cold", "buildah --layers no-op", "buildah --layers 1 YAML"
FLOOR_HASH, FLOOR_SSL, FLOOR_RHW = "floor hashlib", "floor openssl", "floor read+hash+write"
CONTENDERS: list[tuple[str, Callable[[Setup], Sample]]] = [
    (COLD, clusterbuild_cold),
    (NOOP, clusterbuild_noop),
    (PEER, buildah_build),
    (PEER_NOOP, buildah_layers),
    (FLOOR_HASH, floor_hashlib),
    (FLOOR_SSL, floor_openssl),
    (FLOOR_RHW, floor_read_hash_write),
    ("", touch_yaml),  # untimed: the edit both of the next contenders see
    (EDIT, clusterbuild_edit),
    (PEER_EDIT, buildah_layers),
]


def run_all(setup: Setup, runs: int) -> dict[str, Result]:
    """Round-robin: each round runs every contender once (no-op follows cold)."""
    results = {name: Result(name) for name, _ in CONTENDERS if name}
    for round_no in range(1, runs + 1):
        for name, contender in CONTENDERS:
            if not name:
                contender(setup)
                continue
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


def print_targets(results: dict[str, Result], shape: str) -> None:
    med = {name: result.median_wall() for name, result in results.items()}
    cb_samples = results[COLD].good + results[NOOP].good + results[EDIT].good
    rss = max((s.rss_mb for s in cb_samples), default=None)
    rows = [("cold / buildah cold", ratio(med[COLD], med[PEER]),
             TARGET_COLD_OPT if shape == "opt" else None),
            ("cold / floor read+hash+write", ratio(med[COLD], med[FLOOR_RHW]),
             TARGET_COLD_FLOOR if shape == "registry" else None),
            ("cold / floor hashlib", ratio(med[COLD], med[FLOOR_HASH]), None),
            ("cold / floor openssl", ratio(med[COLD], med[FLOOR_SSL]), None),
            ("no-op / buildah --layers no-op", ratio(med[NOOP], med[PEER_NOOP]), TARGET_NOOP),
            ("1 YAML / buildah --layers 1 YAML", ratio(med[EDIT], med[PEER_EDIT]),
             TARGET_EDIT if shape == "opt" else None)]
    print()
    print(f"{'target':<34}{'value':>8}  {'goal':<10}{'result'}")
    print("-" * 62)
    for name, value, limit in rows:
        goal = f"<= {limit}x" if limit is not None else "(info)"
        print(f"{name:<34}{fmt(value, '.3f'):>8}  {goal:<10}{verdict(value, limit) if limit else ''}")
    print(f"{'clusterbuild peak RSS MB':<34}{fmt(rss, '.1f'):>8}  {'< ' + str(TARGET_RSS_MB):<10}"
          f"{verdict(rss, TARGET_RSS_MB, strict=True)}")


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
    parser.add_argument("--context", choices=("registry", "opt"), default="registry",
                        help="registry/-heavy (stored as is) or opt/-heavy (binaries, gzipped)")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="generate (or reuse) the workspace in DIR and keep it"
    )
    parser.add_argument("--clusterbuild", default=find_tool("clusterbuild", "/tmp/venv/bin/clusterbuild"))
    parser.add_argument("--buildah", default=shutil.which("buildah") or "/usr/bin/buildah")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
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
    if args.generate_only:  # in a child process, so that the generator's memory does not
        generate_workspace(args.keep, args.size_mb, args.context)  # count in ru_maxrss
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="bench-build-"))
    run_as_installed(scratch)
    workspace = args.keep.resolve() if args.keep else scratch / "workspace"
    try:
        subprocess.run([sys.executable, __file__, "--generate-only", "--keep", str(workspace),
                        "--size-mb", str(args.size_mb), "--context", args.context], check=True)
        context = workspace / "applications/bench/latest"
        setup = Setup(args.clusterbuild, args.buildah, workspace, context, scratch)
        describe(setup, args.runs)
        results = run_all(setup, args.runs)
        print_table(results)
        print_targets(results, args.context)
        print("\noutputs of the last run:")
        print_outputs(setup)
    finally:
        remove(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
