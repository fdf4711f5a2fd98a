#!/usr/bin/env python3
"""Benchmark: the cost of planning and scanning a catalogue, against its floors.

a. No-op ``clusterbuild plan`` of generated workspaces of 50, 100, 200 and 400 apps x 2
   platforms (each app: a Kubefile, 3 manifests, an image list; already applied), the
   sizes interleaved round by round. Target: 200 apps <= 1.5 s, and linear growth: the
   marginal cost per app from 200 to 400 is at most 1.25x that from 50 to 200.
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


def bench_plan(temp: Path, sizes: list[int], runs: int) -> dict[int, float]:
    workspaces = {n: small_workspace(temp / f"plan-{n}", n) for n in sizes}
    for ws in workspaces.values():
        run([*CLI, "apply", "-C", str(ws)])
    times: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(runs):
        for n, ws in workspaces.items():
            times[n].append(run([*CLI, "plan", "-C", str(ws), "--json"]))
    return {n: statistics.median(t) for n, t in times.items()}


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
    parser.add_argument("--sizes", default="50,100,200,400")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-one-pass-") as name:
        temp = Path(name)
        plans = bench_plan(temp, sizes, args.runs)
        print(f"a. no-op plan, N apps x 2 platforms (median of {args.runs})")
        for n, seconds in plans.items():
            print(f"   {n:>4} apps  {seconds:6.2f} s")
        if {50, 200, 400} <= set(plans):
            low = (plans[200] - plans[50]) / 150 * 1000
            high = (plans[400] - plans[200]) / 200 * 1000
            print(f"   marginal ms/app: 50->200 {low:.2f}, 200->400 {high:.2f} (ratio {high / low:.2f})")
            print(f"   target 200 apps <= 1.5 s: {'PASS' if plans[200] <= 1.5 else 'MISS'}; "
                  f"linear (ratio <= 1.25): {'PASS' if high <= 1.25 * low else 'MISS'}")
        ours, floor = bench_images(temp, args.charts, args.runs)
        print(f"b. cold images over {args.charts} charts: clusterbuild {ours:.2f} s, render-once floor "
              f"{floor:.2f} s, ratio {ours / floor:.2f}x  (target <= 1.2x: "
              f"{'PASS' if ours <= 1.2 * floor else 'MISS'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
