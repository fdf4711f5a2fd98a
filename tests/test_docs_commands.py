"""Every fenced command of README.md and docs/*.md runs, so the docs cannot drift.

Each document runs in a fresh copy of the repository (with `.venv` pointing at this virtualenv),
in one bash process, its fences in order (tests/doc_fences.py says how a fence is marked).
The upstreams the docs name are stand-ins written here, served on 127.0.0.1: a file server
holds `https://<host>/<path>` under `<host>/<path>` (the docs' chart repository, release
downloads) and a docker-registry holds their images. Every apps.yaml the commands work in
gets the local mirrors appended (`downloads.mirrors`, `registries.mirrors`: the way a site
points clusterbuild at its own mirrors), the registries the docs push to and the disk they
carry files on are rewritten to a second local registry and a temp dir, and every other
address goes to a dead proxy: the network is 127.0.0.1 only.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from doc_fences import SHELLS, Command, Fence, commands, fences, script
from supply_workspace import push_image

from conftest import REPO, running_registry, tgz

DOCS = ("README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")))
GUIDES = ("docs/contributing-apps.md", "docs/migrating.md", "docs/offline.md")
DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens there
# addresses the docs push to or carry through, played by a local registry or a temp dir
SITE_REGISTRY = "registry.internal:5000"  # an air-gapped site's registry
PUSH_REGISTRY = "registry.example.com"  # where a catalogue publishes
DISK = "/media/usb"  # a removable disk
UPSTREAM_REGISTRIES = ("docker.io", "registry-1.docker.io", "ghcr.io", "quay.io", "registry.k8s.io")
# where a document starts (default: the copy of the repository), relative to its temp dir
START = {"docs/migrating.md": "cluster-image"}


def all_fences() -> list[Fence]:
    return [fence for doc in DOCS for fence in fences(REPO / doc, doc)]


# --- what every fence says (quick: no command runs) ---------------------------------------

def test_every_shell_fence_is_run_or_says_why_not() -> None:
    for fence in all_fences():
        if fence.lang in SHELLS:
            assert fence.mode in ("run", "no-run", "synopsis", "file"), (
                f"{fence.where}: unknown fence marker {fence.reason!r} "
                "(none to run, no-run: REASON, synopsis, file=PATH)")
        if fence.mode == "no-run":
            assert fence.reason, f"{fence.where}: a no-run fence says why (```bash no-run: needs a cluster)"
        if fence.mode == "file":
            assert fence.path and not fence.path.startswith("/"), \
                f"{fence.where}: file= takes a relative path"


def test_the_guides_run_their_commands() -> None:
    for doc in GUIDES:
        run = [c for f in fences(REPO / doc, doc) if f.mode == "run" for c in commands(f)]
        assert len(run) >= 5, f"{doc}: {len(run)} commands run"


def _help(words: tuple[str, ...]) -> str:
    proc = subprocess.run([sys.executable, "-m", "clusterbuild", *words, "--help"], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "200"}, timeout=60)
    assert proc.returncode == 0, f"clusterbuild {' '.join(words)} --help: {proc.stderr}"
    return proc.stdout


def _usages(fence: Fence) -> list[str]:
    """The usage lines of a synopsis fence (an indented line continues the one before)."""
    usages: list[str] = []
    for line in fence.body:
        if line.startswith("clusterbuild "):
            usages.append(line)
        else:
            assert usages and line[:1].isspace(), f"{fence.where}: a synopsis line starts with clusterbuild"
            usages[-1] += " " + line
    return usages


def test_synopsis_options_exist() -> None:
    """Each option a usage line names is in that command's --help."""
    seen = 0
    for fence in all_fences():
        if fence.mode != "synopsis":
            continue
        for usage in _usages(fence):
            words = usage.split()
            sub = tuple(w for w in words[1:3] if re.fullmatch(r"[a-z]+", w))[:2]
            text = _help(sub)
            if len(sub) == 2 and "Usage: clusterbuild " + " ".join(sub) not in text:
                sub, text = sub[:1], _help(sub[:1])
            for option in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", usage.split("#", 1)[0]):
                assert re.search(rf"(?<![\w-]){re.escape(option)}\b", text), \
                    f"{fence.where}: clusterbuild {' '.join(sub)} has no {option}"
                seen += 1
    assert seen > 20


# --- running them ---------------------------------------------------------------------

@dataclass(frozen=True)
class Site:
    www: str  # the file server standing in for https://
    registry: str  # host:port of the docker-registry standing in for every upstream registry
    target: str  # host:port of another, standing in for the registries the docs push to
    config: str  # the apps.yaml lines that point a workspace at them


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("docs-site")
    www = root / "www"
    www.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with running_registry(root / "registry", root) as registry, \
                running_registry(root / "target", root) as target:
            url = f"http://127.0.0.1:{server.server_address[1]}"
            _publish_upstreams(www, registry)
            mirrors = {host: [registry] for host in UPSTREAM_REGISTRIES}
            config = ("\n# the site's mirrors (added by tests/test_docs_commands.py)\n"
                      + yaml.safe_dump({"downloads": {"mirrors": {"https://": f"{url}/"}},
                                        "registries": {"insecure": [registry, target], "mirrors": mirrors}}))
            yield Site(url, registry, target, config)
    finally:
        server.shutdown()
        server.server_close()


def _file(www: Path, url: str, data: bytes) -> None:
    path = www / url.split("://", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _deployment(name: str, image: str) -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n"
            f"    spec:\n      containers:\n        - name: {name}\n          image: {image}\n")


PODINFO = "https://stefanprodan.github.io/podinfo"
CERT_MANAGER = "https://github.com/cert-manager/cert-manager/releases/download"
PODINFO_IMAGE = '"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"'


def _podinfo_chart(version: str) -> bytes:
    return tgz({
        "podinfo/Chart.yaml": (f"apiVersion: v2\nname: podinfo\nversion: {version}\n"
                               f"appVersion: {version}\n").encode(),
        "podinfo/values.yaml": b"replicaCount: 1\nimage:\n  repository: ghcr.io/stefanprodan/podinfo\n"
                               b"  tag: ''\n",
        "podinfo/templates/deployment.yaml": _deployment("podinfo", PODINFO_IMAGE).encode()},
        executables=())


def _publish_upstreams(www: Path, registry: str) -> None:
    """Small stand-ins, under the names the docs use, for the upstreams they fetch."""
    entries = []
    for version in ("6.7.0", "6.7.1"):
        chart = _podinfo_chart(version)
        _file(www, f"{PODINFO}/podinfo-{version}.tgz", chart)
        entries.append({"name": "podinfo", "version": version, "appVersion": version,
                        "urls": [f"{PODINFO}/podinfo-{version}.tgz"],
                        "digest": hashlib.sha256(chart).hexdigest()})
        push_image(registry, "stefanprodan/podinfo", version, f"podinfo {version} ".encode() * 500)
    index = {"apiVersion": "v1", "entries": {"podinfo": entries}}
    _file(www, f"{PODINFO}/index.yaml", yaml.safe_dump(index).encode())
    for version in ("1.37.0", "1.38.0"):
        push_image(registry, "library/busybox", version, f"busybox {version} ".encode() * 500)
    for version in ("v1.21.0", "v1.21.1"):
        parts = ("controller", "webhook", "cainjector")
        _file(www, f"{CERT_MANAGER}/{version}/cert-manager.yaml",
              "---\n".join(_deployment(f"cert-manager-{p}", f"quay.io/jetstack/cert-manager-{p}:{version}")
                           for p in parts).encode())
        for part in parts:
            payload = f"{part} {version} ".encode() * 500
            push_image(registry, f"jetstack/cert-manager-{part}", version, payload)


def _copy_repo(target: Path) -> Path:
    """The repository's tracked files (not its tests), and `.venv` pointing at this virtualenv."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True,
                            check=True).stdout
    for name in listed.decode().split("\0"):
        if name and not name.startswith(("tests/", "benchmarks/")) and (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    (target / ".venv").symlink_to(sys.prefix)
    return target


def _environment(home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("CLUSTERBUILD_", "GITHUB_", "SOURCE_DATE_EPOCH", "CI"))
            and k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    bin_dir = str(Path(sys.prefix) / "bin")
    return {**keep, "HOME": str(home), "PATH": f"{bin_dir}:{keep.get('PATH', '/usr/bin:/bin')}",
            "HTTPS_PROXY": DEAD_PROXY, "HTTP_PROXY": DEAD_PROXY, "https_proxy": DEAD_PROXY,
            "http_proxy": DEAD_PROXY, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "COLUMNS": "120"}


def _mirror_hook(config: Path) -> str:
    """bash: append the site's mirrors to ./apps.yaml when it has no access settings yet."""
    return (f"if [ -f apps.yaml ] && ! grep -qE '^(downloads|registries):' apps.yaml; then "
            f"cat {config} >> apps.yaml; fi")


@dataclass(frozen=True)
class Ran:
    commands: list[Command]
    statuses: list[int]
    output: str


def run_doc(doc: str, site: Site, tmp: Path) -> Ran:
    repo = _copy_repo(tmp / "clusterbuild")
    start = tmp / START[doc] if doc in START else repo
    start.mkdir(parents=True, exist_ok=True)
    (tmp / "home").mkdir()
    config = tmp / "site.yaml"
    config.write_text(site.config)
    results = tmp / "results"
    hook = _mirror_hook(config)
    (tmp / "disk").mkdir()
    rewrite = {SITE_REGISTRY: site.target, PUSH_REGISTRY: site.target, DISK: str(tmp / "disk")}
    text, run = script(fences(REPO / doc, doc), results, rewrite, hook)
    proc = subprocess.run(["bash", "-c", hook + "\n" + text], cwd=start, env=_environment(tmp / "home"),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    statuses = [int(line.split()[1]) for line in results.read_text().splitlines()] if results.exists() else []
    return Ran(run, statuses, proc.stdout)


def _section(output: str, command: Command) -> str:
    marker = f">>> {command.where}\n"
    return output.split(marker, 1)[-1].split("\n>>> ", 1)[0][-4000:]


@pytest.mark.slow
@pytest.mark.parametrize("doc", [d for d in DOCS if any(f.mode in ("run", "file")
                                                         for f in fences(REPO / d, d))])
def test_doc_commands_run(doc: str, site: Site, tmp_path: Path) -> None:
    ran = run_doc(doc, site, tmp_path)
    assert ran.commands, f"{doc}: nothing to run"
    for i, command in enumerate(ran.commands):
        if i >= len(ran.statuses):
            previous = ran.commands[i - 1] if i else command
            pytest.fail(f"{command.where}: never ran; output after {previous.where}:\n"
                        f"{_section(ran.output, previous)}")
        if ran.statuses[i] != command.expect:
            pytest.fail(f"{command.where}: `{command.text}` exited {ran.statuses[i]}, the doc says "
                        f"{command.expect}:\n{_section(ran.output, command)}")
    assert len(ran.statuses) == len(ran.commands)
