"""A repeated no-op ``apply --json`` or ``plan --json``, answered from a record of file stats.

A no-op is the common case in a loop that edits and rebuilds, in CI and in the bot, and
most of its time is start-up: importing the build modules, reading every spec, planning.
When an offline run finds nothing to do, it records, while it still holds the workspace
lock and the cache lease, the ``lstat`` of every file and directory it could have read:
the workspace (apps.yaml, apps.lock, applications/, everything but ``.git``), the cache
and the layout. The next run with the same command line, directory, environment and
clusterbuild code answers from that record if every entry stats the same, before the
build modules load; anything else runs normally (and records again).

Why a stat is enough (as for git's index and make): an edit changes a file's mtime and
ctime (ctime cannot be set back), a new, removed or renamed entry changes its
directory's mtime. The holes, and how they are closed:

* A workspace file edited while the recording run reads it (``racy``): a file whose
  ctime is not older than the run's start is never recorded; the next run records.
* The workspace directory itself changes when a run creates ``cache/`` or ``out/`` there
  (a first build): a racy workspace directory is accepted when its names are those it had
  when the command started (``note_start``), but for the cache, the layout and the lock.
* Another clusterbuild writing the cache or the layout: the answer replays only under
  the same locks the run takes (free, never waited for: a held lock runs normally),
  and only a run where nothing was stale, so a cache that grows cannot make it wrong.
* Anything outside: the network (runs that used it, pushed, signed or consulted a
  remote cache are never recorded), time (a record lives 12 hours, so the cache's
  roots record stays fresh for ``cache gc``), the code (every file of the package and
  each ``sys.path`` directory are in the key) and the environment (in the key; secrets
  by name only).
* The cache's SQLite index (``cache/index``): every run that opens it creates and removes
  its ``-wal``/``-shm`` files, which changes the directory's mtime though nothing was
  written (so a ``plan`` between two ``apply`` runs would void every record). That one
  directory is recorded by its names, without those two, instead of its stat; an answer
  needs the same names and no ``-wal`` or ``-journal`` file (a writer still running, or
  one that died before folding its writes into ``cache.db``), and ``cache.db`` stats the
  same (a writer that finished has changed it).

``CLUSTERBUILD_NO_RECORD=1`` turns it off. With ``--debug``, stderr says why a record
was or was not used. Imports nothing but the standard library: it runs first.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

STARTED_NS = time.time_ns()
ENTERED_ARGV: list[str] | None = None  # set by ``cli.entry``: only its runs are recorded
STARTED_NAMES: tuple[str, list[str]] | None = None  # the workspace's names at the start (``note_start``)
FORMAT = 1
RECORDS_DIR = "noop"  # under the cache directory
OFF_ENV = "CLUSTERBUILD_NO_RECORD"
MAX_AGE_NS = 12 * 3600 * 10**9
MAX_ENTRIES = 200_000  # a larger tree is not worth recording
SQLITE_DIR = "index"  # under the cache directory: the step-result index (``cache.results``)
SQLITE_TRANSIENT = ("-wal", "-shm", "-journal")
MAX_RECORDS = 64  # per cache; the oldest go first
TICK_NS = 20_000_000  # file times come from a coarse clock that lags by up to a tick
WORKSPACE_LOCK = ".clusterbuild.lock"  # the locks of ``commands.locks``, defined here: this
CACHE_LEASE = "lease.lock"  # module runs before anything else is imported
_VOLATILE_ENV = frozenset({"_", "OLDPWD", "SHLVL", "PWD"})
_SECRET_ENV = re.compile(r"PASS|TOKEN|SECRET|CREDENTIAL|AUTH|KEY", re.IGNORECASE)

Entry = list[Any]  # [relative path, mode, inode, size, mtime_ns, ctime_ns]


def _stat_of(path: str) -> tuple[int, int, int, int, int]:
    st = os.lstat(path)
    return st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _code_stamp() -> list[Any]:
    """What the answer depends on besides the run's inputs: this package's files, the
    installed packages (each ``sys.path`` directory changes when one is added or removed)
    and the interpreter."""
    package = str(Path(__file__).resolve().parents[1])
    files = []
    for directory, dirs, names in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files += [[os.path.join(directory, n), *_stat_of(os.path.join(directory, n))] for n in sorted(names)]
    paths = []
    for entry in sys.path:
        try:
            paths.append([entry, *_stat_of(entry)])
        except OSError:
            paths.append([entry])
    return [sys.version, sys.executable, files, paths]


def _environment(environ: Mapping[str, str]) -> list[list[str]]:
    return sorted([name, "(secret)" if _SECRET_ENV.search(name) else value]
                  for name, value in environ.items() if name not in _VOLATILE_ENV)


def record_key(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    text = json.dumps([FORMAT, list(argv), os.getcwd(), _environment(environ), _code_stamp()])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def eligible(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """A command line a record may answer (the recording run decides the rest)."""
    return not environ.get(OFF_ENV) and "--json" in argv and ("apply" in argv or "plan" in argv)


def cache_dir_of(argv: Sequence[str], environ: Mapping[str, str]) -> Path:
    """The cache directory as ``settings`` finds it: --cache-dir, $CLUSTERBUILD_CACHE_DIR,
    <workspace>/cache. A wrong guess only misses: the key holds the whole command line."""
    cache = None
    for i, arg in enumerate(argv):
        if arg == "--cache-dir" and i + 1 < len(argv):
            cache = argv[i + 1]
        elif arg.startswith("--cache-dir="):
            cache = arg.split("=", 1)[1]
    if cache is None:
        cache = environ.get("CLUSTERBUILD_CACHE_DIR") or os.path.join(_workspace_of(argv), "cache")
    return Path(cache).resolve()


def _workspace_of(argv: Sequence[str]) -> Path:
    workspace = "."
    for i, arg in enumerate(argv):
        if arg in ("-C", "--workspace") and i + 1 < len(argv):
            workspace = argv[i + 1]
        elif arg.startswith("--workspace="):
            workspace = arg.split("=", 1)[1]
        elif arg.startswith("-C") and len(arg) > 2:
            workspace = arg[2:]
    return Path(workspace).resolve()


# -- recording (the run that found nothing to do, inside its locks) --------------------


def snapshot(workspace: Path, cache: Path, layout: Path) -> list[list[Any]] | None:
    """Every entry of the three trees with its stat, or None when the state cannot be
    recorded (a workspace file changed during this run, a symlink to a directory or out of
    the trees, too many entries)."""
    (cache / RECORDS_DIR).mkdir(exist_ok=True)  # before the walk: its record is of the cache with it
    trees: list[list[Any]] = []
    total = 0
    skips = {workspace: {str(cache), str(layout), str(workspace / ".git"), str(workspace / WORKSPACE_LOCK)},
             cache: {str(cache / RECORDS_DIR), str(cache / CACHE_LEASE)}, layout: set()}
    for root, skipped in skips.items():
        entries = _walk(root, skipped, racy_check=root == workspace, roots=tuple(map(str, skips)),
                        by_names=str(cache / SQLITE_DIR))
        if entries is None:
            return None
        total += len(entries)
        if total > MAX_ENTRIES:
            return None
        trees.append([str(root), entries])
    git: list[Entry] = [[path, *stat] for path, stat in _git_state(workspace)]
    if any(max(e[4], e[5]) >= STARTED_NS - TICK_NS for e in git if len(e) > 5):
        return None  # a commit or checkout during this run
    trees.append([os.sep, git])
    _let_the_clock_pass(trees[1:])
    return trees


def _git_state(workspace: Path) -> Iterator[tuple[str, tuple[int, ...]]]:
    """The files a commit, checkout or reset changes in the repository holding the
    workspace (the images' created time is the app directory's last commit time)."""
    for directory in (workspace, *workspace.parents):
        dot_git = directory / ".git"
        if not os.path.lexists(dot_git):
            continue
        git_dir, common = dot_git, dot_git
        if dot_git.is_file():  # a worktree: "gitdir: PATH", whose commondir names the shared one
            text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
            git_dir = (directory / text.removeprefix("gitdir:").strip()).resolve()
            with_common = git_dir / "commondir"
            common = (git_dir / with_common.read_text(encoding="utf-8").strip()).resolve() \
                if with_common.is_file() else git_dir
        head = git_dir / "HEAD"
        paths = [head, common / "packed-refs", common / "shallow"] + ([dot_git] if git_dir != dot_git else [])
        try:
            ref = head.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            ref = ""
        if ref.startswith("ref:"):
            paths.append(common / ref.removeprefix("ref:").strip())
        for path in paths:
            try:
                yield str(path), _stat_of(str(path))
            except OSError:
                yield str(path), ()
        return


def _let_the_clock_pass(trees: list[list[Any]]) -> None:
    """Wait (holding the locks) until file times pass the newest one recorded in the cache
    and the layout: a write after this run is then never stamped the same as one before."""
    newest = max((max(e[4], e[5]) for _, entries in trees for e in entries if len(e) > 5), default=0)
    wait = newest + TICK_NS - time.time_ns()
    if wait > 0:
        time.sleep(min(wait, TICK_NS) / 1e9)


def _walk(root: Path, skipped: set[str], racy_check: bool, roots: tuple[str, ...],
          by_names: str) -> list[Entry] | None:
    """lstat of ``root`` and everything below it but ``skipped`` (relative paths), or None;
    the directory ``by_names`` as its names (see the module docstring)."""
    try:
        entries: list[Entry] = [["", *_stat_of(str(root))]]
    except FileNotFoundError:
        return [[""]]  # absent: recorded as absent
    except OSError:
        return None
    racy_from = STARTED_NS - TICK_NS
    if racy_check and max(entries[0][4], entries[0][5]) >= racy_from and not _names_kept(root, skipped):
        return None
    for path, rel, stat in _tree(str(root), "", skipped):
        if stat is None:
            return None
        if path == by_names and (stat[0] & 0o170000) == 0o040000:
            names = _sqlite_names(path)
            if names is None:
                return None
            entries.append([rel, NAMES, names])
            continue
        if os.path.dirname(path) == by_names and path.endswith(SQLITE_TRANSIENT):
            continue
        mode, _, _, mtime, ctime = stat
        if racy_check and max(mtime, ctime) >= racy_from:
            return None  # changed while (or after) this run read it
        if (mode & 0o170000) == 0o120000 and not _recorded_target(path, roots):
            return None
        entries.append([rel, *stat])
    return entries


def note_start(argv: Sequence[str], environ: Mapping[str, str]) -> None:
    """The names in the workspace directory as the command starts (a wrong guess of the
    workspace only means no record)."""
    global STARTED_NAMES
    if eligible(argv, environ):
        root = _workspace_of(argv)
        try:
            STARTED_NAMES = (str(root), sorted(os.listdir(root)))
        except OSError:
            STARTED_NAMES = None


def _names_kept(root: Path, skipped: set[str]) -> bool:
    """Does ``root`` hold the names it held at the start (the skipped ones apart)?"""
    if STARTED_NAMES is None or STARTED_NAMES[0] != str(root):
        return False
    try:
        now = os.listdir(root)
    except OSError:
        return False

    def kept(names: Sequence[str]) -> list[str]:
        return sorted(n for n in names if os.path.join(str(root), n) not in skipped)
    return kept(now) == kept(STARTED_NAMES[1])


NAMES = "names"  # an entry [rel, NAMES, [name, ...]]: a directory recorded by its names


def _sqlite_names(directory: str) -> list[str] | None:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None
    return [n for n in names if not n.endswith(SQLITE_TRANSIENT)]


def _recorded_target(link: str, roots: tuple[str, ...]) -> bool:
    """Is what the symlink names recorded too (a file or nothing, inside the three trees)?"""
    target = os.path.realpath(link)
    return not os.path.isdir(target) and any(target.startswith(root + os.sep) for root in roots)


def _tree(path: str, rel: str, skipped: set[str]) -> Iterator[tuple[str, str, Any]]:
    try:
        with os.scandir(path) as it:
            children = sorted(it, key=lambda e: e.name)
    except OSError:
        yield path, rel, None
        return
    for child in children:
        if child.path in skipped:
            continue
        child_rel = f"{rel}/{child.name}" if rel else child.name
        try:
            stat = _stat_of(child.path)
        except OSError:
            yield child.path, child_rel, None
            return
        yield child.path, child_rel, stat
        if child.is_dir(follow_symlinks=False):
            yield from _tree(child.path, child_rel, skipped)


def write_record(argv: Sequence[str], environ: Mapping[str, str], cache: Path, locks: Sequence[str],
                 trees: list[list[Any]], stdout: Any, stderr: str) -> None:
    """Store the answer for ``argv`` (``stdout``: the JSON document it printed)."""
    directory = cache / RECORDS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record_key(argv, environ)}.json"
    doc = {"format": FORMAT, "recorded_ns": time.time_ns(), "argv": list(argv), "locks": list(locks),
           "trees": trees, "stdout": stdout, "stderr": stderr}
    tmp = directory / f".{path.name}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)
    _prune(directory)


def _prune(directory: Path) -> None:
    records = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    now = time.time_ns()
    for old in records[MAX_RECORDS:] + [p for p in records[:MAX_RECORDS]
                                        if now - p.stat().st_mtime_ns > MAX_AGE_NS]:
        old.unlink(missing_ok=True)


# -- answering (a run with the same command line) -------------------------------------


@contextmanager
def _held(locks: Sequence[str]) -> Iterator[bool]:
    """Try each lock as the recording run held it ("EX:path" or "SH:path"), never waiting."""
    with ExitStack() as stack:
        for lock in locks:
            mode, path = lock.split(":", 1)
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError:
                yield False
                return
            stack.callback(os.close, fd)
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if mode == "EX" else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
        yield True


def _changed(trees: list[list[Any]]) -> str | None:
    """The first recorded entry that stats differently (or None: nothing changed)."""
    for root, entries in trees:
        for entry in entries:
            path = str(os.path.join(root, entry[0]) if entry[0] else root)
            if len(entry) == 3 and entry[1] == NAMES:
                try:
                    now_names = os.listdir(path)
                except OSError:
                    return path
                if any(n.endswith(("-wal", "-journal")) for n in now_names) or \
                        sorted(n for n in now_names if not n.endswith("-shm")) != entry[2]:
                    return path
                continue
            try:
                now = list(_stat_of(path))
            except OSError:
                now = []
            if now != entry[1:]:
                return path
    return None


def _debug(argv: Sequence[str], message: str) -> None:
    if "--debug" in argv:
        print(f"debug: {message}", file=sys.stderr)


def answer(argv: Sequence[str], environ: Mapping[str, str],
           write: Callable[[str, str], None]) -> int | None:
    """The exit code after ``write(stdout, stderr)`` of the recorded answer, or None: run."""
    if not eligible(argv, environ):
        return None
    path = cache_dir_of(argv, environ) / RECORDS_DIR / f"{record_key(argv, environ)}.json"
    try:
        doc = json.loads(path.read_bytes())
        if doc["format"] != FORMAT or doc["argv"] != list(argv):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: the run records a new one
    if time.time_ns() - int(doc["recorded_ns"]) > MAX_AGE_NS:
        _debug(argv, f"no-op record {path} is older than 12 hours")
        return None
    with _held(doc["locks"]) as free:
        if not free:
            _debug(argv, f"no-op record {path} not used: another clusterbuild holds a lock")
            return None
        changed = _changed(doc["trees"])
        if changed is not None:
            _debug(argv, f"no-op record {path} not used: {changed} changed")
            return None
        stdout = doc["stdout"]
        if isinstance(stdout, dict) and "seconds" in stdout:
            stdout["seconds"] = round((time.time_ns() - STARTED_NS) / 1e9, 3)
        write(json.dumps(stdout, indent=2) + "\n", str(doc["stderr"]))
    _debug(argv, f"answered from the no-op record {path}: nothing changed")
    return 0
