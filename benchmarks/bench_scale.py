#!/usr/bin/env python3
"""Benchmark: no-op ``plan`` and ``apply`` from 25 to 1,000 apps x 2 platforms, and how they grow.

Each generated app has a Kubefile, three manifests and an empty image list (see
``bench_one_pass.small_workspace``). Every size gets one cold ``apply`` first; then, round by
round and size after size (interleaved, so machine load hits every size alike), a no-op
``plan --json`` and a no-op ``apply --json`` (the JSON must say nothing ran).

Printed per size: the median seconds and ms per app; per step between sizes: the marginal
ms per app (flat = linear); and the growth exponent k of the best fit ``t = a + b * n^k``
(k = 1: linear, k = 2: quadratic). Target: no-op plan and apply of 400 apps <= 0.8 s,
and k <= 1.1.

A repeated no-op is answered from its record of file stats (``cache.noop_records``); the
same commands with ``CLUSTERBUILD_NO_RECORD=1`` (a no-op whose record does not hold, e.g.
the first run after an edit elsewhere) are timed beside them, as information.

The commands run with Python's bytecode cache on (in a temp dir), as an installed tool
does (``bench_env``).

Usage: python benchmarks/bench_scale.py [--rounds 3] [--sizes 25,100,400,1000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_env import run_as_installed
from bench_one_pass import small_workspace

CLI = [sys.executable, "-m", "clusterbuild"]
TARGET_SECONDS = 0.8
TARGET_EXPONENT = 1.1


def run(args: list[str], env: dict[str, str], *, no_op: bool = False) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    if no_op and args[len(CLI)] == "apply" and json.loads(proc.stdout).get("ran"):
        raise SystemExit(f"{' '.join(args)}: expected a no-op, but steps ran")
    return seconds


def fit_growth(sizes: list[int], seconds: list[float]) -> tuple[float, float, float]:
    """(a, b, k) of the least-squares fit t = a + b * n^k, k searched over 0.5..3."""
    best: tuple[float, float, float, float] | None = None
    for step in range(50, 301):
        k = step / 100
        xs = [n ** k for n in sizes]
        mx, my = statistics.fmean(xs), statistics.fmean(seconds)
        sxx = sum((x - mx) ** 2 for x in xs)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, seconds, strict=True)) / sxx
        a = my - b * mx
        residual = sum((a + b * x - y) ** 2 for x, y in zip(xs, seconds, strict=True))
        if best is None or residual < best[0]:
            best = (residual, a, b, k)
    assert best is not None
    return best[1], best[2], best[3]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="25,100,400,1000")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as name:
        temp = Path(name)
        run_as_installed(temp)
        env = dict(os.environ)
        workspaces = {n: small_workspace(temp / f"ws-{n}", n) for n in sizes}
        cold = {}
        for n, ws in workspaces.items():
            cold[n] = run([*CLI, "apply", "-C", str(ws), "--json"],
                          {**env, "CLUSTERBUILD_CACHE_DIR": str(ws / "cache")})
        kinds = ("plan", "apply", "plan unrecorded", "apply unrecorded")
        times: dict[str, dict[int, list[float]]] = {k: {n: [] for n in sizes} for k in kinds}
        for _ in range(args.rounds):
            for n, ws in workspaces.items():
                ws_env = {**env, "CLUSTERBUILD_CACHE_DIR": str(ws / "cache")}
                for kind in kinds:
                    command, _, unrecorded = kind.partition(" ")
                    kind_env = {**ws_env, "CLUSTERBUILD_NO_RECORD": "1"} if unrecorded else ws_env
                    times[kind][n].append(run([*CLI, command, "-C", str(ws), "--json"], kind_env,
                                              no_op=True))
    print(f"N apps x 2 platforms; no-op plan and apply, medians of {args.rounds} interleaved rounds")
    median = {kind: {n: statistics.median(t) for n, t in by.items()} for kind, by in times.items()}
    for n in sizes:
        print(f"  {n:>5} apps  cold apply {cold[n]:6.2f} s   "
              + "   ".join(f"{kind} {median[kind][n]:5.2f} s ({median[kind][n] / n * 1000:5.2f} ms/app)"
                           for kind in ("plan", "apply")))
        print("  " + " " * 29 + "   ".join(
            f"{kind} {median[kind][n]:5.2f} s" for kind in ("plan unrecorded", "apply unrecorded")))
    for kind in kinds:
        by = median[kind]
        steps = [f"{a}->{b}: {(by[b] - by[a]) / (b - a) * 1000:.2f}" for a, b in itertools.pairwise(sizes)]
        a, b, k = fit_growth(sizes, [by[n] for n in sizes])
        verdicts = [f"k <= {TARGET_EXPONENT}: {'PASS' if k <= TARGET_EXPONENT else 'MISS'}"]
        if 400 in by:
            verdict = "PASS" if by[400] <= TARGET_SECONDS else "MISS"
            verdicts.append(f"400 apps <= {TARGET_SECONDS} s: {verdict}")
        if kind.endswith("unrecorded"):
            print(f"  {kind:<16} fit t = {a:.3f} + {b:.2e} * n^{k:.2f}   (information)")
            continue
        print(f"  {kind:<5} marginal ms/app {'  '.join(steps)}")
        print(f"  {kind:<5} fit t = {a:.3f} + {b:.2e} * n^{k:.2f}   ({', '.join(verdicts)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
