"""What every benchmark's children run with: Python as an installed tool runs it.

``pip install`` compiles every module to bytecode, so an installed clusterbuild starts from
``.pyc`` files. A shell with ``PYTHONDONTWRITEBYTECODE`` set (this machine sets it) would
make each measured run compile ~110 modules again (0.15-0.25 s here, more under load), a cost
no user pays; the bytecode goes to a temp dir instead of the source tree.
"""

from __future__ import annotations

import os
from pathlib import Path


def run_as_installed(temp: Path) -> None:
    """Children of this process write and read bytecode under ``temp``."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(temp / "pycache")
