"""Census of `clusterbuild import` over a cluster-image catalogue checkout.

    python benchmarks/import_census.py CATALOGUE_DIR [--reasons N] [--apps a,b] [--list]

CATALOGUE_DIR is a checkout of labring-actions/cluster-image (it holds applications/). For
each app one directory is imported: ``latest/`` when there is one, else the newest version
directory with an init.sh (else the newest directory). The conversion (spec, and the files
the script writes, such as a heredoc Kubefile) is written into a copy of that directory in
a scratch workspace, and ``clusterbuild check`` runs on it. An app is **full** when its
conversion has no line left "not convertible" and the check passes: the imported spec builds
with no hand edit (offline: the check renders every template, evaluates the Kubefile against
the app dir plus what the inputs declare, and refuses COPY sources and CMD paths the image will
not hold; nothing is fetched, so an input that fails to download is not caught here). An app
whose own files fail the check (a Kubefile naming a file the app never has) counts as not full.
Printed: full / with unconverted lines / failing the check only, and the
reasons of the unconverted lines by frequency (the first N).

Nothing of the catalogue is written outside the scratch dir, which is removed at the end.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from clusterbuild.errors import ClusterbuildError
from clusterbuild.importer import convert_init_sh, write_conversion

SCRIPT = "init.sh"


@dataclass
class Outcome:
    app: str
    directory: str
    unconverted: list[str]  # "init.sh:12 text: not convertible (reason)"
    problems: list[str]  # check problems (or why the import failed)

    @property
    def full(self) -> bool:
        return not self.unconverted and not self.problems


def _version_key(name: str) -> list[tuple[int, object]]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name.lstrip("v"))]


def pick_dir(app_dir: Path) -> Path | None:
    """The app directory the census imports."""
    dirs = sorted((d for d in app_dir.iterdir() if d.is_dir()), key=lambda d: _version_key(d.name))
    if not dirs:
        return None
    if (app_dir / "latest").is_dir():
        return app_dir / "latest"
    with_script = [d for d in dirs if (d / SCRIPT).is_file()]
    return (with_script or dirs)[-1]


def _reason(line: str) -> str:
    """The reason of a skipped line, with paths, names and numbers generalised."""
    reason = line.split(": not convertible (", 1)[-1].rstrip(")")
    reason = re.sub(r"\$\{?\w+\}?", "$VAR", reason)
    reason = re.sub(r"\b(writes|edits|extracts|places|removes|moves) [^ ;:,]+", r"\1 X", reason)
    return reason[:110]


def census(catalogue: Path, scratch: Path, only: set[str]) -> list[Outcome]:
    from clusterbuild.commands.check import check_workspace
    from clusterbuild.settings import CommandLine, read_settings
    from clusterbuild.workspace.load import load_workspace

    apps_dir = catalogue / "applications"
    ws_root = scratch / "ws"
    (ws_root / "applications").mkdir(parents=True)
    outcomes: list[Outcome] = []
    entries = []
    for app_dir in sorted(p for p in apps_dir.iterdir() if p.is_dir()):
        app = app_dir.name.strip().lower()
        if only and app not in only:
            continue
        chosen = pick_dir(app_dir)
        if chosen is None or not re.fullmatch(r"[a-z0-9]+([._-][a-z0-9]+)*", app):
            outcomes.append(Outcome(app, "", [], ["no app directory to import"]))
            continue
        version = chosen.name if chosen.name != "latest" else "v1.0.0"
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", version):
            version = "v1.0.0"
        target = ws_root / "applications" / app / "latest"
        shutil.copytree(chosen, target, symlinks=True)
        (target.parent / "README.md").write_text(f"# {app}\n")
        outcome = Outcome(app, str(chosen.relative_to(catalogue)), [], [])
        if (target / SCRIPT).is_file():
            try:
                conversion = convert_init_sh((target / SCRIPT).read_text(errors="replace"), app,
                                             str(chosen.relative_to(catalogue) / SCRIPT), target)
                outcome.unconverted = [s for s in conversion.skipped if ": not convertible (" in s]
                (target / "clusterbuild.yaml").unlink(missing_ok=True)
                write_conversion(target, conversion)
            except ClusterbuildError as e:
                outcome.problems.append(f"import: {e}")
        outcomes.append(outcome)
        entries.append(f"  {app}:\n    versions: [\"{version}\"]\n")
    (ws_root / "apps.yaml").write_text("registry: docker.io/labring\napps:\n" + "".join(entries))
    ws = load_workspace(ws_root)
    settings = read_settings(CommandLine(workspace=ws_root, cache_dir=scratch / "cache"), ws.config, {})
    for outcome in outcomes:
        if outcome.problems or not outcome.directory:
            continue
        try:
            report = check_workspace(replace(settings, targets=(outcome.app,)), ws)
        except ClusterbuildError as e:
            outcome.problems.append(str(e))
            continue
        outcome.problems += report.problems
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalogue", type=Path)
    parser.add_argument("--reasons", type=int, default=20, help="reasons to print (by frequency)")
    parser.add_argument("--apps", default="", help="only these apps (comma-separated)")
    parser.add_argument("--list", action="store_true", help="print every app that is not full, and why")
    args = parser.parse_args()
    if not (args.catalogue / "applications").is_dir():
        print(f"{args.catalogue}: no applications/ (give a cluster-image checkout)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="import-census-") as scratch:
        outcomes = census(args.catalogue, Path(scratch), {a for a in args.apps.split(",") if a})
    elapsed = time.perf_counter() - started
    full = [o for o in outcomes if o.full]
    unconverted = [o for o in outcomes if o.unconverted]
    check_only = [o for o in outcomes if not o.unconverted and o.problems]
    print(f"apps: {len(outcomes)}   ({elapsed:.1f} s)")
    print(f"full (no unconverted line, check passes): {len(full)}")
    print(f"with unconverted lines:                   {len(unconverted)} "
          f"({sum(len(o.unconverted) for o in unconverted)} lines)")
    print(f"converted, but the check fails:           {len(check_only)}")
    reasons = Counter(_reason(line) for o in unconverted for line in dict.fromkeys(o.unconverted))
    apps_per_reason = Counter(_reason(line) for o in unconverted for line in
                              {_reason(x): x for x in o.unconverted}.values())
    if args.reasons:
        print(f"\nreasons of unconverted lines (lines, apps), top {args.reasons}:")
        for reason, count in reasons.most_common(args.reasons):
            print(f"  {count:4d} {apps_per_reason[reason]:4d}  {reason}")
    if args.list:
        for o in outcomes:
            if not o.full:
                print(f"\n{o.app} ({o.directory}):")
                for line in o.unconverted + [f"check: {p}" for p in o.problems]:
                    print(f"    {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
