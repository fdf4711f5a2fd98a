"""Run a script step: ``bash init.sh <arch> <app> <version>`` in a scratch copy of the app dir.

The script runs with a clean environment (a standard PATH, a private HOME, Helm's dirs in
the scratch area, proxies passed through), a timeout, and — when bubblewrap works here —
inside ``bwrap`` with only the scratch dir writable (network allowed). Its output goes to a
log kept under the cache. On success every file it left is streamed into the store; on
failure nothing is recorded and the scratch dir is removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from functools import lru_cache
from pathlib import Path

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.oci.digest import Digest
from clusterbuild.plan.results import FilesResult
from clusterbuild.plan.steps import ScriptStep
from clusterbuild.workspace.context import walk_context

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSED = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "TZ")


@lru_cache(maxsize=1)
def bwrap_works() -> bool:
    """Is bubblewrap installed and allowed to make namespaces here?"""
    if shutil.which("bwrap") is None:
        return False
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "true"],
                           capture_output=True, timeout=20)
    return probe.returncode == 0


def _environment(scratch: Path) -> dict[str, str]:
    home = scratch / "home"
    env = {"PATH": PATH, "HOME": str(home), "LANG": "C.UTF-8", "TMPDIR": str(scratch / "tmp"),
           "HELM_CACHE_HOME": str(home / ".cache/helm"), "HELM_CONFIG_HOME": str(home / ".config/helm"),
           "HELM_DATA_HOME": str(home / ".local/share/helm")}
    env |= {k: os.environ[k] for k in PASSED if k in os.environ}
    for path in (home, scratch / "tmp"):
        path.mkdir(parents=True, exist_ok=True)
    return env


def _command(step: ScriptStep, scratch: Path, workdir: Path) -> list[str]:
    command = ["bash", "init.sh", *step.args]
    if not bwrap_works():
        return command
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--bind", str(scratch), str(scratch), "--chdir", str(workdir), "--die-with-parent",
            "--", *command]


class _Digests:
    """File digests for the walk of the script's output, putting each file into the store."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store

    def digest(self, rel: str, path: Path, st: os.stat_result) -> Digest:
        with open(path, "rb") as src, self.store.writer() as blob:
            while chunk := src.read(1 << 20):
                blob.write(chunk)
        return blob.digest


def _run(step: ScriptStep, scratch: Path, workdir: Path, log: Path) -> None:
    where = f"{step.app}:{step.version} [{step.platforms[0]}]"
    with open(log, "wb") as out:
        proc = subprocess.Popen(_command(step, scratch, workdir), cwd=workdir, env=_environment(scratch),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=step.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise BuildError(f"{where}: init.sh still running after {step.timeout}s, stopped "
                             f"(log: {log})", hint="raise script_timeout in apps.yaml") from None
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    if code != 0:
        raise BuildError(f"{where}: init.sh exited with {code} (log: {log})",
                         hint="read the log; run `bash init.sh` in the app dir to debug")


def run_script(step: ScriptStep, store: BlobStore, work_root: Path) -> FilesResult:
    scratch = work_root / "scratch" / f"{step.key[:16]}.{os.getpid()}"
    log = work_root / "logs" / f"{step.app}-{step.version}-{step.platforms[0].tag_suffix}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(scratch, ignore_errors=True)
    workdir = scratch / "app"
    try:
        shutil.copytree(step.app_dir, workdir, symlinks=True)
        _run(step, scratch, workdir, log)
        context = walk_context(workdir, _Digests(store), "")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return FilesResult(tuple(item.entry for item in context.files.values()), str(log))
