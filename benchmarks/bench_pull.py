#!/usr/bin/env python3
"""Benchmark: clusterbuild's registry client pulling many images vs skopeo, one image after another.

What is pulled
    A local docker-registry (Debian's, distribution 2.8, plain HTTP on 127.0.0.1) holding
    ``--images`` images (default 20) ``bench/app-NN:v1`` of ``--image-mb`` MB each (default
    50; MB = 10^6 bytes). Every image has the same ``--shared-mb`` MB of base layers (three
    layers, default 30 MB in all) plus one layer of its own; layers are uncompressed tars of
    random bytes (``application/vnd.oci.image.layer.v1.tar``). The registry's storage tree
    (``blobs/``, ``_layers``, ``_manifests`` links) is written directly by this script, so
    setting up needs neither skopeo nor the client under test.

What is measured (each contender ``--runs`` times, round-robin, median reported)
    a. clusterbuild: one process pulling every reference in one ``RegistryClient.pull`` call
       into a fresh, empty ``BlobStore`` (default ``jobs=4``); it reports the response body
       bytes it received, counted by a transport wrapper around ``httpx.HTTPTransport``.
    b. skopeo (the peer): ``skopeo copy docker://… dir:<fresh dir>`` for each image, one
       after another, in one ``bash`` loop. Its transfer is the size of what it wrote.

How
    * Wall time: ``time.perf_counter()`` around spawning the command and reaping it
      (process start and imports included for both).
    * Peak RSS: ``ru_maxrss`` from ``os.wait4()`` = the largest single process among the
      command and the descendants it reaped (the client's jobs are threads).
    * Page cache: the registry's files are written just before and stay cached; before
      every timed run (untimed) outputs are removed and ``sync`` is run.

Targets (PASS/MISS; the exit code is 0 regardless, this is a report)
    skopeo wall / clusterbuild wall >= 2; clusterbuild transfers each unique blob once;
    clusterbuild peak RSS < 200 MB.

Usage: python benchmarks/bench_pull.py [--images 20] [--image-mb 50] [--shared-mb 30] [--runs 3]
Standard library + clusterbuild (run it with the project's virtualenv python).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MB = 1_000_000
CHUNK = 1 << 20
SHARED_LAYERS = 3
TARGET_RATIO = 2.0
TARGET_RSS_MB = 200.0
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"


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

    def put_image(self, repo: str, tag: str, layers: list[dict[str, object]]) -> int:
        """Write config + manifest for ``layers`` and link everything; the image's byte total."""
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
        return sum(int(str(b["size"])) for b in (config_desc, *layers)) + len(manifest)


@dataclass
class Dataset:
    refs: list[str]  # repo:tag, without the registry host
    unique_bytes: int  # every blob and manifest once
    total_bytes: int  # summed over images: what image-by-image copies move


def generate(root: Path, images: int, image_mb: float, shared_mb: float) -> Dataset:
    tree = RegistryTree(root)
    shared = [tree.put_random_tar(f"base-{i}", int(shared_mb * MB / SHARED_LAYERS))
              for i in range(SHARED_LAYERS)]
    unique = sum(int(str(d["size"])) for d in shared)
    refs, total = [], 0
    for n in range(images):
        own = tree.put_random_tar(f"app-{n}", int((image_mb - shared_mb) * MB))
        size = tree.put_image(f"bench/app-{n:02d}", "v1", [*shared, own])
        unique += size - sum(int(str(d["size"])) for d in shared)
        total += size
        refs.append(f"bench/app-{n:02d}:v1")
    shutil.rmtree(tree.staging)
    return Dataset(refs, unique, total)


# ----------------------------------------------------------------- the registry


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_registry(storage: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], str]:
    address = f"127.0.0.1:{free_port()}"
    config = scratch / "registry.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                      f"    rootdirectory: {storage}\nhttp:\n  addr: {address}\n")
    proc = subprocess.Popen([shutil.which("docker-registry") or "/usr/bin/docker-registry", "serve",
                             str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                return proc, address
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("docker-registry did not start")


# -------------------------------------------------------------------- measuring


@dataclass
class Sample:
    wall: float
    rss_mb: float
    transferred: int = 0
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


def run_measured(cmd: list[str], log: Path) -> tuple[Sample, str]:
    with open(log, "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    error = None
    if code != 0:
        error = f"exit {code}: {log.with_suffix('.err').read_text(errors='replace')[-600:].strip()}"
    return Sample(wall, usage.ru_maxrss * 1024 / MB, error=error), log.read_text(errors="replace")


@dataclass
class Setup:
    registry: str
    data: Dataset
    scratch: Path

    def clusterbuild(self) -> Sample:
        store = self.scratch / "store"
        shutil.rmtree(store, ignore_errors=True)
        subprocess.run(["sync"], check=True)
        cmd = [sys.executable, __file__, "--worker", str(store), self.registry, *self.data.refs]
        sample, stdout = run_measured(cmd, self.scratch / "clusterbuild.log")
        if sample.error is None:
            report = json.loads(stdout)
            sample.transferred = report["transferred"]
            if report["stored"] != self.data.unique_bytes:
                sample.error = f"stored {report['stored']} bytes, expected {self.data.unique_bytes}"
        return sample

    def skopeo(self) -> Sample:
        out = self.scratch / "skopeo"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        subprocess.run(["sync"], check=True)
        copy = "skopeo --insecure-policy copy -q --src-tls-verify=false"
        loop = " && ".join(f"{copy} docker://{self.registry}/{r} dir:{out}/{i}"
                           for i, r in enumerate(self.data.refs))
        sample, _ = run_measured(["bash", "-c", loop], self.scratch / "skopeo.log")
        sample.transferred = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        return sample


def worker(store_dir: str, registry: str, refs: list[str]) -> int:
    """The clusterbuild contender, in its own process: pull everything, print what moved."""
    import httpx

    from clusterbuild.cache.store import BlobStore
    from clusterbuild.oci.reference import Reference
    from clusterbuild.places.registry import RegistryClient, RegistryConfig

    counted = [0]

    class Counting(httpx.SyncByteStream):
        def __init__(self, inner: httpx.SyncByteStream) -> None:
            self.inner = inner

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.inner:
                counted[0] += len(chunk)
                yield chunk

        def close(self) -> None:
            self.inner.close()

    class CountingTransport(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            assert isinstance(response.stream, httpx.SyncByteStream)
            return httpx.Response(response.status_code, headers=response.headers,
                                  stream=Counting(response.stream), extensions=response.extensions)

    store = BlobStore(Path(store_dir))
    config = RegistryConfig(insecure=frozenset({registry}))
    with RegistryClient(config, transport=CountingTransport()) as client:
        client.pull([Reference.parse(f"{registry}/{r}") for r in refs], None, store)
    stored = sum(store.path(d).stat().st_size for d in store.digests())
    print(json.dumps({"transferred": counted[0], "stored": stored}))
    return 0


# ----------------------------------------------------------------------- report


def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def report(results: dict[str, Result], data: Dataset) -> None:
    print(f"\n{'contender':<16}{'wall s (median)':>16}{'peak RSS MB':>13}{'MB moved':>10}{'MB/s':>8}"
          "   wall s per run")
    print("-" * 88)
    for result in results.values():
        runs = " ".join(f"{s.wall:.2f}" if s.error is None else "FAIL" for s in result.samples)
        moved = result.median("transferred")
        wall, peak = fmt(result.median("wall"), ".2f"), fmt(result.median("rss_mb"), ".1f")
        median_wall = result.median("wall")
        rate = fmt(moved / MB / median_wall if moved and median_wall else None, ".0f")
        megabytes = fmt(moved and moved / MB, ".1f")
        print(f"{result.name:<16}{wall:>16}{peak:>13}{megabytes:>10}{rate:>8}   {runs}")
    ours, peer = results["clusterbuild"], results["skopeo x N"]
    ratio = None
    if ours.median("wall") and peer.median("wall") is not None:
        ratio = (peer.median("wall") or 0.0) / (ours.median("wall") or 1.0)
    rss = max((s.rss_mb for s in ours.good), default=None)
    moved = ours.median("transferred")
    rows = [
        ("skopeo / clusterbuild wall", fmt(ratio, ".2f"), f">= {TARGET_RATIO:g}x",
         "n/a" if ratio is None else ("PASS" if ratio >= TARGET_RATIO else "MISS")),
        ("clusterbuild MB moved", fmt(moved and moved / MB, ".1f"), f"~ {data.unique_bytes / MB:.1f}",
         "n/a" if moved is None else ("PASS" if moved <= data.unique_bytes * 1.01 else "MISS")),
        ("clusterbuild peak RSS MB", fmt(rss, ".1f"), f"< {TARGET_RSS_MB:g}",
         "n/a" if rss is None else ("PASS" if rss < TARGET_RSS_MB else "MISS")),
    ]
    print(f"\n{'target':<28}{'value':>10}  {'goal':<12}result")
    print("-" * 60)
    for name, value, goal, verdict in rows:
        print(f"{name:<28}{value:>10}  {goal:<12}{verdict}")
    print(f"\nunique blob bytes {data.unique_bytes / MB:.1f} MB; "
          f"image by image {data.total_bytes / MB:.1f} MB")
    for result in results.values():
        for sample in result.samples:
            if sample.error:
                print(f"{result.name} failed: {sample.error}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--image-mb", type=float, default=50.0)
    parser.add_argument("--shared-mb", type=float, default=30.0, help="base layers every image shares")
    parser.add_argument("--runs", type=int, default=3)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["--worker"]:
        return worker(given[1], given[2], given[3:])
    args = parse_args(given)
    scratch = Path(tempfile.mkdtemp(prefix="bench-pull-"))
    proc = None
    try:
        print(f"writing {args.images} images of {args.image_mb:g} MB ({args.shared_mb:g} MB shared) ...",
              flush=True)
        data = generate(scratch / "registry", args.images, args.image_mb, args.shared_mb)
        proc, address = start_registry(scratch / "registry", scratch)
        setup = Setup(address, data, scratch)
        results = {"clusterbuild": Result("clusterbuild"), "skopeo x N": Result("skopeo x N")}
        for round_no in range(1, args.runs + 1):
            for name, contender in (("clusterbuild", setup.clusterbuild), ("skopeo x N", setup.skopeo)):
                sample = contender()
                results[name].samples.append(sample)
                print(f"  run {round_no}/{args.runs} {name:<14}{sample.wall:8.2f}s {sample.rss_mb:8.1f} MB"
                      f"  {'FAILED: ' + sample.error if sample.error else 'ok'}", flush=True)
        report(results, data)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
