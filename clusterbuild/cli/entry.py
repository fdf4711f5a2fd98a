"""The ``clusterbuild`` command: a repeated no-op answered from its record
(``cache.noop_records``, standard library only), else the whole command line (``main``)."""

from __future__ import annotations

import os
import sys

from clusterbuild.cache import noop_records


def _write(stdout: str, stderr: str) -> None:
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)


def main() -> None:
    argv = sys.argv[1:]
    noop_records.ENTERED_ARGV = argv
    try:
        noop_records.note_start(argv, os.environ)
        code = noop_records.answer(argv, os.environ, _write)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception:
        code = None
    if code is not None:
        sys.stdout.flush()
        sys.exit(code)
    from clusterbuild.cli.main import main as run

    run()
