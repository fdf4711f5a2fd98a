"""Run a script step: ``bash init.sh <arch> <app> <version>`` in a scratch copy of the app dir.

The script runs with a clean environment (a standard PATH, a private HOME, Helm's dirs in
the scratch area, proxies passed through), a timeout, in its own process group (stopped
with clusterbuild), and inside bubblewrap (found by absolute path): new PID, IPC and UTS
namespaces, the invoking user's HOME, /root, /run/user, config dirs and the cache hidden
under empty tmpfs mounts, only the scratch dir writable, the network kept. Where no
sandbox can be made the build refuses, unless apps.yaml says ``scripts: {sandbox: false}``
(or ``--unsandboxed``). Its output goes to a log kept under the cache. On success every
file it left is streamed into the store; on failure nothing is recorded and the scratch
dir is removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from clusterbuild.cache.store import BlobStore
from clusterbuild.errors import BuildError
from clusterbuild.execute import children
from clusterbuild.oci.digest import Digest
from clusterbuild.plan.results import FilesResult
from clusterbuild.plan.steps import ScriptStep
from clusterbuild.settings import ScriptSandbox
from clusterbuild.workspace.context import walk_context

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STANDARD_BWRAP = ("/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap")
NAMESPACES = ("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session")
SANDBOX_HINT = ("install bubblewrap (apt-get install bubblewrap; scripts/install.sh does), or set "
                "`scripts: {sandbox: false}` in apps.yaml (or pass --unsandboxed) to run init.sh "
                "with your own rights")


@lru_cache(maxsize=8)
def _probe(bwrap: str) -> str:
    """'' when ``bwrap`` makes the sandbox here, else why not."""
    try:
        probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                                *NAMESPACES, "true"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{bwrap}: {getattr(exc, 'strerror', None) or exc}"
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines()
        return f"{bwrap}: {lines[-1] if lines else f'exit {probe.returncode}'}"
    return ""


def find_bwrap(sandbox: ScriptSandbox) -> tuple[str | None, str]:
    """The bubblewrap to run scripts in (by absolute path), or None and why not."""
    candidates = (sandbox.bwrap,) if sandbox.bwrap else STANDARD_BWRAP
    found = [c for c in candidates if os.path.isfile(c) and os.access(c, os.X_OK)]
    if not found:
        return None, f"no bwrap at {', '.join(candidates)}"
    why = _probe(found[0])
    return (found[0], "") if not why else (None, why)


def bwrap_works(sandbox: ScriptSandbox | None = None) -> bool:
    return find_bwrap(sandbox or ScriptSandbox())[0] is not None


def _environment(scratch: Path, passed: tuple[tuple[str, str], ...]) -> dict[str, str]:
    home = scratch / "home"
    env = {"PATH": PATH, "HOME": str(home), "LANG": "C.UTF-8", "TMPDIR": str(scratch / "tmp"),
           "HELM_CACHE_HOME": str(home / ".cache/helm"), "HELM_CONFIG_HOME": str(home / ".config/helm"),
           "HELM_DATA_HOME": str(home / ".local/share/helm")}
    env |= dict(passed)
    for path in (home, scratch / "tmp"):
        path.mkdir(parents=True, exist_ok=True)
    return env


def _command(args: tuple[str, ...], bwrap: str | None, hidden: tuple[Path, ...], scratch: Path,
             workdir: Path) -> list[str]:
    """``bash init.sh <arch> <app> <version>``; in the sandbox: everything read-only, the
    user's private dirs hidden under empty tmpfs, new PID/IPC/UTS namespaces (no other
    process to read), only the scratch dir writable, the network kept."""
    command = ["bash", "init.sh", *args]
    if bwrap is None:
        return command
    out = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", *NAMESPACES]
    for path in hidden:
        if path != Path("/") and path.is_dir():
            out += ["--tmpfs", str(path)]
    return [*out, "--bind", str(scratch), str(scratch), "--chdir", str(workdir), "--", *command]


class _Digests:
    """File digests for the walk of the script's output, putting each file into the store."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store

    def digest(self, rel: str, path: Path, st: os.stat_result) -> Digest:
        with open(path, "rb") as src, self.store.writer() as blob:
            while chunk := src.read(1 << 20):
                blob.write(chunk)
        return blob.digest


def _run(where: str, timeout: int, command: list[str], env: dict[str, str], workdir: Path,
         log: Path) -> None:
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        children.started(proc)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            children.kill_group(proc.pid)
            proc.wait()
            raise BuildError(f"{where}: init.sh still running after {timeout}s, stopped "
                             f"(log: {log})", hint="raise script_timeout in apps.yaml") from None
        except BaseException:
            children.kill_group(proc.pid)
            proc.wait()
            raise
        finally:
            children.ended(proc)
    if code != 0:
        raise BuildError(f"{where}: init.sh exited with {code} (log: {log})",
                         hint="read the log; run `bash init.sh` in the app dir to debug")


def run_in_scratch(app_dir: Path, args: tuple[str, ...], scratch: Path, log: Path, sandbox: ScriptSandbox,
                   timeout: int, where: str) -> Path:
    """``bash init.sh *args`` in a copy of ``app_dir`` under ``scratch`` (sandboxed unless the
    sandbox is off); the copy, as the script left it. The caller removes ``scratch``."""
    bwrap, why = find_bwrap(sandbox) if sandbox.enabled else (None, "")
    if sandbox.enabled and bwrap is None:
        raise BuildError(f"{where}: init.sh runs only in a bubblewrap sandbox, and none can be made "
                         f"here ({why})", hint=SANDBOX_HINT)
    log.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(scratch, ignore_errors=True)
    workdir = scratch / "app"
    shutil.copytree(app_dir, workdir, symlinks=True)
    env = _environment(scratch, sandbox.passed_env)
    _run(where, timeout, _command(args, bwrap, sandbox.hidden, scratch, workdir), env, workdir, log)
    return workdir


def run_script(step: ScriptStep, store: BlobStore, work_root: Path, sandbox: ScriptSandbox) -> FilesResult:
    scratch = work_root / "scratch" / f"{step.key[:16]}.{os.getpid()}"
    log = work_root / "logs" / f"{step.app}-{step.version}-{step.platforms[0].tag_suffix}.log"
    where = f"{step.app}:{step.version} [{step.platforms[0]}]"
    try:
        workdir = run_in_scratch(step.app_dir, step.args, scratch, log, sandbox, step.timeout, where)
        context = walk_context(workdir, _Digests(store), "")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return FilesResult(tuple(item.entry for item in context.files.values()), str(log))
