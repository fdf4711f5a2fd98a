#!/usr/bin/env python3
"""Benchmark: the cost of planning and scanning a catalogue, against its floors.

a. Generated workspaces of 25, 100, 200, 400 and 1,000 apps x 2 platforms (each app: a
   Kubefile, 3 manifests, an image list): a cold ``apply``, then no-op ``plan`` and ``apply``,
   sizes interleaved round by round; prints the marginal ms per app between sizes (flat =
   linear). Target: no-op plan of 200 apps <= 1.5 s.
b. Cold ``clusterbuild images`` of a workspace of N chart apps (the chart of
   ``bench_scan.py``, full mode, one render per chart), against the floor: a script
   that loads and renders each chart once with the same Helm library in one process,
   and nothing else. Each round runs both, alternating which goes first. Target:
   clusterbuild <= 1.2x the floor.

Usage: python benchmarks/bench_one_pass.py [--runs 3] [--charts 100] [--sizes 50,100,200,400]
Needs the project installed (.venv) with helm-python-sdk.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_env import run_as_installed
from bench_scan import write_chart  # a chart of realistic size

CLI = [sys.executable, "-m", "clusterbuild"]

RENDER_ONCE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import helm_python
    count = 0
    for chart_dir in sorted(Path(sys.argv[1]).glob("applications/*/latest/charts/*")):
        chart = helm_python.Chart.load(chart_dir)
        with chart:
            rendered = chart.render({}, name="dryrun", namespace="")
        count += len(rendered)
    print(count)
""")


def run(args: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds


def small_workspace(root: Path, apps: int) -> Path:
    lines = ["registry: localhost/bench", "platforms: [linux/amd64, linux/arm64]", "apps:"]
    for n in range(apps):
        name = f"app{n:03d}"
        app = root / "applications" / name / "latest"
        (app / "manifests").mkdir(parents=True)
        (app / "images/shim").mkdir(parents=True)
        for m in range(3):
            (app / f"manifests/m{m}.yaml").write_text(f"kind: ConfigMap\nmetadata:\n  name: {name}-{m}\n")
        (app / "images/shim/list").write_text("")
        (app / "Kubefile").write_text("FROM scratch\nENV A=1\nCOPY . .\n"
                                      "CMD [\"kubectl apply -f manifests\"]\n")
        lines += [f"  {name}:", "    versions: [v1]"]
    (root / "apps.yaml").write_text("\n".join(lines) + "\n")
    return root


def chart_workspace(root: Path, charts: int) -> Path:
    lines = ["registry: localhost/bench", "platforms: [linux/amd64]", "apps:"]
    for n in range(charts):
        name = f"app{n:03d}"
        app = root / "applications" / name / "latest"
        write_chart(app / "charts", n)
        (app / "Kubefile").write_text("FROM scratch\nCOPY . .\nCMD [\"helm upgrade -i x charts/x\"]\n")
        (app / "clusterbuild.yaml").write_text("images:\n  discover: full\n")
        lines += [f"  {name}:", "    versions: [v1]"]
    (root / "apps.yaml").write_text("\n".join(lines) + "\n")
    return root


def bench_plan(temp: Path, sizes: list[int], runs: int) -> dict[str, dict[int, float]]:
    """Medians of a cold apply, then no-op plan and apply, per workspace size (interleaved)."""
    workspaces = {n: small_workspace(temp / f"plan-{n}", n) for n in sizes}
    times: dict[str, dict[int, list[float]]] = {k: {n: [] for n in sizes} for k in ("cold", "plan", "apply")}
    for ws in workspaces.values():
        times["cold"][len(list((ws / "applications").iterdir()))].append(run([*CLI, "apply", "-C", str(ws)]))
    for _ in range(runs):
        for n, ws in workspaces.items():
            times["plan"][n].append(run([*CLI, "plan", "-C", str(ws), "--json"]))
            times["apply"][n].append(run([*CLI, "apply", "-C", str(ws), "--json"]))
    return {kind: {n: statistics.median(t) for n, t in by.items()} for kind, by in times.items()}


def bench_images(temp: Path, charts: int, runs: int) -> tuple[float, float]:
    template = chart_workspace(temp / "charts-template", charts)
    ours, floor = [], []
    for round_ in range(runs):
        ws = temp / f"charts-{round_}"
        shutil.copytree(template, ws)
        env = {**os.environ, "CLUSTERBUILD_CACHE_DIR": str(ws / "cache")}
        pair = [("ours", [*CLI, "images", "-C", str(ws)]),
                ("floor", [sys.executable, "-c", RENDER_ONCE, str(ws)])]
        for name, command in pair if round_ % 2 == 0 else reversed(pair):
            (ours if name == "ours" else floor).append(run(command, env))
    return statistics.median(ours), statistics.median(floor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--charts", type=int, default=100)
    parser.add_argument("--sizes", default="25,100,200,400,1000")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-one-pass-") as name:
        temp = Path(name)
        run_as_installed(temp)
        measured = bench_plan(temp, sizes, args.runs)
        print(f"a. N apps x 2 platforms: cold apply, then no-op plan and apply (median of {args.runs})")
        for n in sizes:
            print(f"   {n:>5} apps  cold {measured['cold'][n]:6.2f} s  plan {measured['plan'][n]:6.2f} s  "
                  f"apply {measured['apply'][n]:6.2f} s")
        for kind in ("cold", "plan", "apply"):
            by = measured[kind]
            steps = [f"{a}->{b}: {(by[b] - by[a]) / (b - a) * 1000:.2f}"
                     for a, b in itertools.pairwise(sizes)]
            print(f"   {kind:<5} marginal ms/app  {'  '.join(steps)}")
        plans = measured["plan"]
        if 200 in plans:
            print(f"   target no-op plan of 200 apps <= 1.5 s: {'PASS' if plans[200] <= 1.5 else 'MISS'}")
        ours, floor = bench_images(temp, args.charts, args.runs)
        print(f"b. cold images over {args.charts} charts: clusterbuild {ours:.2f} s, render-once floor "
              f"{floor:.2f} s, ratio {ours / floor:.2f}x  (target <= 1.2x: "
              f"{'PASS' if ours <= 1.2 * floor else 'MISS'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
