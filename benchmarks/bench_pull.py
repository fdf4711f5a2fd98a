#!/usr/bin/env python3
"""Benchmark: pulls through the CLI — `clusterbuild apply` pulling many images that share layers.

What is pulled
    A local docker-registry (Debian's, distribution 2.8, plain HTTP on 127.0.0.1) holding
    ``--images`` images (default 20) ``bench/app-NN:v1`` of ``--image-mb`` MB each (default
    50; MB = 10^6 bytes). Every image has the same ``--shared-mb`` MB of base layers (three
    layers, default 30 MB in all) plus one layer of its own; layers are uncompressed tars of
    random bytes (``application/vnd.oci.image.layer.v1.tar``), linux/amd64. The registry's
    storage tree (``blobs/``, ``_layers``, ``_manifests`` links) is written directly by this
    script, so setting up needs neither skopeo nor the client under test.

    The workspace: ``--apps`` apps (default 1) that ship the images between them, image N in
    app N mod ``--apps`` (``images/shim/list``), in their ``registry/`` trees (``COPY . .``),
    one platform. Each image is a pull step of its own, so the shared layers are wanted by
    every pull step of the run at once. With more than one app, each app's ``registry/``
    layer holds the shared layers again (an image's layers must be in it), so the disk
    target is taken against the bytes the apps ship (each app's blobs once), which is the
    unique bytes for one app.

Contenders (each ``--runs`` times, interleaved round by round, medians reported)
    * ``clusterbuild -j N`` for N in ``--jobs`` (default 1,2,8): ``clusterbuild apply --jobs N``
      with an empty ``--cache-dir`` and no ``out/``: pull, registry/ tar, layer, image, export.
      Its pull steps' own time is reported beside (the ``seconds`` of the ``pull`` steps in the
      JSON, summed: thread time, so it exceeds the wall time at N > 1).
    * ``curl floor``: one ``curl`` process fetching every unique blob (and each manifest) once,
      one after another over one keep-alive connection, into files: what moving the bytes
      costs on this loopback.
    * ``skopeo x N`` (information): ``skopeo copy docker://… dir:`` per image, one after another.

Bytes served
    The registry's access log (``log.accesslog``, combined format: the response size of every
    request) is read after each run: the bytes the registry sent during that run.

Disk
    After each clusterbuild run: the bytes on disk of the cache dir and ``out/`` together
    (``st_blocks``, each inode once: ``out/`` hard-links the cache's blobs), against the
    unique bytes of all images.

How
    * Wall time: ``time.perf_counter()`` around spawning the command and reaping it.
    * Peak RSS: ``ru_maxrss`` from ``os.wait4()``.
    * Page cache: the registry's files are written just before and stay cached; before every
      timed run (untimed) outputs are removed and ``sync`` is run.

Targets (PASS/MISS; the exit code is 0 regardless, this is a report)
    bytes served = unique bytes at every ``--jobs``; clusterbuild wall <= 3x the curl floor;
    cache + out/ <= 1.1x the unique bytes; peak RSS < 200 MB.

Usage: python benchmarks/bench_pull.py [--images 20] [--image-mb 50] [--shared-mb 30]
       [--jobs 1,2,8] [--runs 3]
Standard library only (it runs ``clusterbuild`` next to this Python, or ``python -m clusterbuild``).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

MB = 1_000_000
CHUNK = 1 << 20
SHARED_LAYERS = 3
TARGET_RATIO = 2.0
TARGET_RSS_MB = 200.0
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"

sys.path.insert(0, str(Path(__file__).parent))
from bench_env import run_as_installed  # noqa: E402

# --------------------------------------------------------------------------- data


class RegistryTree:
    """docker/distribution's filesystem storage, written directly."""

    def __init__(self, root: Path) -> None:
        self.v2 = root / "docker" / "registry" / "v2"
        self.staging = root / "staging"
        self.staging.mkdir(parents=True, exist_ok=True)

    def _place(self, staged: Path, hexdigest: str) -> None:
        target = self.v2 / "blobs" / "sha256" / hexdigest[:2] / hexdigest / "data"
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(target)

    def put_bytes(self, data: bytes) -> dict[str, object]:
        hexdigest = hashlib.sha256(data).hexdigest()
        staged = self.staging / "blob"
        staged.write_bytes(data)
        self._place(staged, hexdigest)
        return {"digest": f"sha256:{hexdigest}", "size": len(data)}

    def put_random_tar(self, name: str, size: int) -> dict[str, object]:
        """An uncompressed tar holding one file of ``size`` random bytes."""
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, 0, 0o644
        digest, staged, written = hashlib.sha256(), self.staging / "layer", 0
        with open(staged, "wb") as out:
            for block in self._tar_blocks(info.tobuf(), size):
                digest.update(block)
                out.write(block)
                written += len(block)
        self._place(staged, digest.hexdigest())
        return {"mediaType": LAYER_TYPE, "digest": f"sha256:{digest.hexdigest()}", "size": written}

    @staticmethod
    def _tar_blocks(header: bytes, size: int) -> Iterator[bytes]:
        yield header
        left = size
        while left:
            chunk = os.urandom(min(CHUNK, left))
            left -= len(chunk)
            yield chunk
        yield b"\0" * ((-size) % 512 + 1024)

    def link(self, repo: str, parts: list[str], digest: str) -> None:
        path = self.v2 / "repositories" / repo / Path(*parts) / "link"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(digest)  # no trailing newline: the registry answers 500 otherwise

    def put_image(self, repo: str, tag: str, layers: list[dict[str, object]]) -> tuple[int, str]:
        """Write config + manifest for ``layers`` and link everything; the image's byte total
        and its config's digest."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in layers]}})
        config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json",
                       **self.put_bytes(config.encode())}
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": config_desc, "layers": layers}).encode()
        manifest_digest = str(self.put_bytes(manifest)["digest"])
        for blob in (config_desc, *layers):
            self.link(repo, ["_layers", "sha256", str(blob["digest"])[7:]], str(blob["digest"]))
        self.link(repo, ["_manifests", "revisions", "sha256", manifest_digest[7:]], manifest_digest)
        self.link(repo, ["_manifests", "tags", tag, "current"], manifest_digest)
        self.link(repo, ["_manifests", "tags", tag, "index", "sha256", manifest_digest[7:]], manifest_digest)
        return sum(int(str(b["size"])) for b in (config_desc, *layers)) + len(manifest), \
            str(config_desc["digest"])


@dataclass
class Dataset:
    refs: list[str]  # repo:tag, without the registry host
    unique_bytes: int  # every blob and manifest once
    total_bytes: int  # summed over images: what image-by-image copies move
    blobs: list[tuple[str, str]]  # (repo, digest) once per unique blob, configs included
    shared_bytes: int  # the base layers every image has


def generate(root: Path, images: int, image_mb: float, shared_mb: float) -> Dataset:
    tree = RegistryTree(root)
    shared = [tree.put_random_tar(f"base-{i}", int(shared_mb * MB / SHARED_LAYERS))
              for i in range(SHARED_LAYERS)]
    unique = sum(int(str(d["size"])) for d in shared)
    refs, total = [], 0
    blobs = [("bench/app-00", str(d["digest"])) for d in shared]
    for n in range(images):
        repo = f"bench/app-{n:02d}"
        own = tree.put_random_tar(f"app-{n}", int((image_mb - shared_mb) * MB))
        size, config = tree.put_image(repo, "v1", [*shared, own])
        unique += size - sum(int(str(d["size"])) for d in shared)
        total += size
        refs.append(f"{repo}:v1")
        blobs += [(repo, str(own["digest"])), (repo, config)]
    shutil.rmtree(tree.staging)
    return Dataset(refs, unique, total, blobs, sum(int(str(d["size"])) for d in shared))


# ----------------------------------------------------------------- the registry


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


ACCESS = re.compile(rb'^\S+ \S+ \S+ \[[^]]*\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) '
                    rb'(?P<size>\d+|-)')


class Served:
    """What the registry sent, read from its access log (combined format) on stdout."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.log.stat().st_size

    def since_mark(self) -> tuple[int, int]:
        """(bytes of response bodies, requests) logged since ``mark``."""
        with open(self.log, "rb") as f:
            f.seek(self.offset)
            lines = f.read().splitlines()
        total = requests = 0
        for line in lines:
            match = ACCESS.search(line)
            if match:
                requests += 1
                if match["size"] != b"-":
                    total += int(match["size"])
        return total, requests


def start_registry(storage: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], str, Served]:
    address = f"127.0.0.1:{free_port()}"
    config = scratch / "registry.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\n"
                      f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
                      f"http:\n  addr: {address}\n")
    log = scratch / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([shutil.which("docker-registry") or "/usr/bin/docker-registry", "serve",
                                 str(config)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                return proc, address, Served(log)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("docker-registry did not start")


# -------------------------------------------------------------------- measuring


@dataclass
class Sample:
    wall: float
    rss_mb: float
    served: int = 0
    requests: int = 0
    disk: int = 0
    pull_seconds: float = 0.0
    error: str | None = None


@dataclass
class Result:
    name: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def good(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None]

    def median(self, attribute: str) -> float | None:
        values = [float(getattr(s, attribute)) for s in self.good]
        return statistics.median(values) if values else None


def run_measured(cmd: list[str], log: Path, cwd: Path | None = None) -> tuple[Sample, str]:
    with open(log, "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    error = None
    if code != 0:
        error = f"exit {code}: {log.with_suffix('.err').read_text(errors='replace')[-600:].strip()}"
    return Sample(wall, usage.ru_maxrss * 1024 / MB, error=error), log.read_text(errors="replace")


def disk_bytes(*roots: Path) -> int:
    """Bytes allocated under ``roots``, each inode once (hard links count once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for name in files:
                st = os.lstat(os.path.join(dirpath, name))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total


def clusterbuild_command() -> list[str]:
    beside = Path(sys.executable).with_name("clusterbuild")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "clusterbuild"]


def write_workspace(ws: Path, registry: str, refs: list[str], apps: int) -> None:
    lines = ["registry: localhost/bench", "platforms: [linux/amd64]", "output:", "  layout: out",
             "registries:", f"  insecure: [\"{registry}\"]", "apps:"]
    for a in range(apps):
        app = ws / "applications" / f"app-{a:02d}" / "latest"
        (app / "images" / "shim").mkdir(parents=True)
        (app / "images" / "shim" / "list").write_text(
            "".join(f"{registry}/{ref}\n" for ref in refs[a::apps]))
        (app / "Kubefile").write_text('FROM scratch\nCOPY . .\nCMD ["true"]\n')
        lines += [f"  app-{a:02d}:", "    versions: [\"v1\"]"]
    (ws / "apps.yaml").write_text("\n".join(lines) + "\n")


@dataclass
class Setup:
    registry: str
    data: Dataset
    scratch: Path
    served: Served
    apps: int
    profile: str | None = None
    template: Path = field(init=False)

    def __post_init__(self) -> None:
        self.template = self.scratch / "workspace"
        write_workspace(self.template, self.registry, self.data.refs, self.apps)

    def _measured(self, name: str, cmd: list[str], cwd: Path | None = None) -> tuple[Sample, str]:
        subprocess.run(["sync"], check=True)
        self.served.mark()
        sample, stdout = run_measured(cmd, self.scratch / f"{name}.log", cwd)
        time.sleep(0.05)  # the registry logs a request once its response is written
        sample.served, sample.requests = self.served.since_mark()
        return sample, stdout

    def clusterbuild(self, jobs: int) -> Sample:
        ws, cache = self.scratch / "run-ws", self.scratch / "run-cache"
        shutil.rmtree(ws, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(self.template, ws)
        profile = ["-m", "cProfile", "-o", f"{self.profile}.j{jobs}"] if self.profile else []
        cmd = [sys.executable, *profile, "-m", "clusterbuild", "-C", str(ws), "apply", "--json",
               "--jobs", str(jobs), "--cache-dir", str(cache)]
        sample, stdout = self._measured(f"clusterbuild-{jobs}", cmd)
        if sample.error is None:
            result = json.loads(stdout)
            pulls = [step for step in result["ran"] if step["kind"] == "pull"]
            sample.pull_seconds = sum(step["seconds"] for step in pulls)
            sample.disk = disk_bytes(cache, ws / "out")
            if len(pulls) != len(self.data.refs):
                sample.error = f"{len(pulls)} pull steps ran, expected {len(self.data.refs)}"
        return sample

    def curl(self) -> Sample:
        out = self.scratch / "curl"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        args = ["curl", "-sSf"]
        for n, (repo, digest) in enumerate(self.data.blobs):
            args += ["-o", str(out / f"b{n}"), f"http://{self.registry}/v2/{repo}/blobs/{digest}"]
        accept = "application/vnd.oci.image.manifest.v1+json"
        for n, ref in enumerate(self.data.refs):
            repo, tag = ref.rsplit(":", 1)
            args += ["-H", f"Accept: {accept}", "-o", str(out / f"m{n}"),
                     f"http://{self.registry}/v2/{repo}/manifests/{tag}"]
        sample, _ = self._measured("curl", args)
        written = sum(p.stat().st_size for p in out.iterdir())
        if sample.error is None and written != self.data.unique_bytes:
            sample.error = f"curl wrote {written} bytes, expected {self.data.unique_bytes}"
        return sample

    def skopeo(self) -> Sample:
        out = self.scratch / "skopeo"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        copy = "skopeo --insecure-policy copy -q --src-tls-verify=false"
        loop = " && ".join(f"{copy} docker://{self.registry}/{r} dir:{out}/{i}"
                           for i, r in enumerate(self.data.refs))
        sample, _ = self._measured("skopeo", ["bash", "-c", loop])
        return sample


# ----------------------------------------------------------------------- report


def shipped_bytes(data: Dataset, apps: int) -> int:
    """The unique bytes plus the shared layers once more for each further app that ships any."""
    return data.unique_bytes + (min(apps, len(data.refs)) - 1) * data.shared_bytes


def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def report(results: dict[str, Result], data: Dataset, shipped: int) -> None:
    print(f"\n{'contender':<18}{'wall s':>8}{'pull s':>8}{'RSS MB':>8}{'MB served':>11}{'requests':>10}"
          f"{'disk MB':>9}   wall s per run")
    print("-" * 96)
    for result in results.values():
        runs = " ".join(f"{s.wall:.2f}" if s.error is None else "FAIL" for s in result.samples)
        served, disk = result.median("served"), result.median("disk")
        print(f"{result.name:<18}{fmt(result.median('wall'), '.2f'):>8}"
              f"{fmt(result.median('pull_seconds') or None, '.2f'):>8}"
              f"{fmt(result.median('rss_mb'), '.1f'):>8}{fmt(served and served / MB, '.1f'):>11}"
              f"{fmt(result.median('requests'), '.0f'):>10}{fmt(disk and disk / MB, '.1f'):>9}   {runs}")
    floor = results["curl floor"].median("wall")
    unique = data.unique_bytes
    print(f"\n{'target':<38}{'value':>9}  {'goal':<10}result")
    print("-" * 66)
    for name, result in results.items():
        if not name.startswith("clusterbuild"):
            continue
        wall, served = result.median("wall"), result.median("served")
        disk = result.median("disk")
        rss = max((s.rss_mb for s in result.good), default=None)
        ratio = wall / floor if wall and floor else None
        rows = [
            (f"{name}: MB served", fmt(served and served / MB, ".1f"), f"= {unique / MB:.1f}",
             verdict(None if served is None else served <= unique * 1.005)),
            (f"{name}: wall / curl floor", fmt(ratio, ".2f"), "<= 3",
             verdict(None if ratio is None else ratio <= 3.0)),
            (f"{name}: (cache + out/) / shipped", fmt(disk and disk / shipped, ".2f"), "<= 1.1",
             verdict(None if disk is None else disk <= 1.1 * shipped)),
            (f"{name}: peak RSS MB", fmt(rss, ".1f"), f"< {TARGET_RSS_MB:g}",
             verdict(None if rss is None else rss < TARGET_RSS_MB)),
        ]
        for row_name, value, goal, mark in rows:
            print(f"{row_name:<38}{value:>9}  {goal:<10}{mark}")
    print(f"\nunique bytes (blobs and manifests once) {unique / MB:.1f} MB; "
          f"image by image {data.total_bytes / MB:.1f} MB; shipped by the apps (each app's blobs "
          f"once) {shipped / MB:.1f} MB; load average {os.getloadavg()[0]:.2f}")
    for result in results.values():
        for sample in result.samples:
            if sample.error:
                print(f"{result.name} failed: {sample.error}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--image-mb", type=float, default=50.0)
    parser.add_argument("--shared-mb", type=float, default=30.0, help="base layers every image shares")
    parser.add_argument("--apps", type=int, default=1, help="apps the images are shared out to")
    parser.add_argument("--jobs", default="1,2,8", help="the --jobs of each clusterbuild contender")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-skopeo", action="store_true", help="leave the skopeo contender out")
    parser.add_argument("--profile", metavar="PATH", help="cProfile each clusterbuild run into PATH.j<jobs>")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-pull-"))
    run_as_installed(scratch)
    proc = None
    try:
        print(f"writing {args.images} images of {args.image_mb:g} MB ({args.shared_mb:g} MB shared) ...",
              flush=True)
        data = generate(scratch / "registry", args.images, args.image_mb, args.shared_mb)
        proc, address, served = start_registry(scratch / "registry", scratch)
        setup = Setup(address, data, scratch, served, args.apps, args.profile)
        contenders: dict[str, Callable[[], Sample]] = {
            f"clusterbuild -j {j}": functools.partial(setup.clusterbuild, int(j))
            for j in args.jobs.split(",")}
        contenders["curl floor"] = setup.curl
        if not args.no_skopeo:
            contenders["skopeo x N"] = setup.skopeo
        results = {name: Result(name) for name in contenders}
        for round_no in range(1, args.runs + 1):
            for name, contender in contenders.items():
                sample = contender()
                results[name].samples.append(sample)
                print(f"  run {round_no}/{args.runs} {name:<18}{sample.wall:8.2f}s "
                      f"{sample.served / MB:8.1f} MB served  "
                      f"{'FAILED: ' + sample.error if sample.error else 'ok'}", flush=True)
        report(results, data, shipped_bytes(data, args.apps))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
