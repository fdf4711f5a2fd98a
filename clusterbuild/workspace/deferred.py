"""Which remote inputs planning never reads: their bytes can stay in the remote step cache.

Planning reads some files of a build context: charts (their metadata), what the image scan
reads (``charts/``, ``manifests/``, ``images/``, ``.sealignore``, Helm values files), the
files ``images.read`` and late text inputs read, and the first bytes of an ``ADD`` source
(is it an archive?). Everything else is read only by the layer step that packs it, so a
machine that takes that layer (or its image) from the remote step cache never needs it.

``deferrable`` says, conservatively, which unpack steps of an app version place only such
files: an input whose ``dest`` is under a directory planning reads, or looks like text
planning may read (YAML, JSON, a template, a list), or an app version that uses
``images.read``, text inputs or ``ADD`` at all, keeps its bytes fetched as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from clusterbuild.kubefile.parse import RECIPE_NAMES
from clusterbuild.plan.steps import UnpackStep
from clusterbuild.schema.models import CopyInput, RenderInput, TextInput
from clusterbuild.workspace.load import AppVersion
from clusterbuild.workspace.scanning import IGNORE_FILE, SCANNED

READ_SUFFIXES = (".yaml", ".yml", ".json", ".tmpl", ".txt", ".tpl", ".list", ".conf")
_ADD = re.compile(r"^\s*ADD\s", re.IGNORECASE | re.MULTILINE)


def _reads_dest(dest: str) -> bool:
    """May planning read a file placed at ``dest`` (a file or a directory)?"""
    path = dest.strip().lstrip("/").removeprefix("./")
    if not path or path in (".", IGNORE_FILE) or path in RECIPE_NAMES:
        return True
    if any(path.startswith(prefix) or f"{path}/" == prefix for prefix in SCANNED):
        return True
    return path.lower().endswith(READ_SUFFIXES)


def _recipe_adds(av: AppVersion) -> bool:
    """Does the app dir's Kubefile have an ADD (or is there none to read)?"""
    for name in RECIPE_NAMES:
        candidate = av.app_dir / name
        if candidate.is_file():
            try:
                return _ADD.search(candidate.read_text(encoding="utf-8", errors="replace")) is not None
            except OSError:
                return True
    return True


def deferrable(av: AppVersion, unpacks: Sequence[UnpackStep]) -> list[UnpackStep]:
    """The unpack steps of ``av`` whose files planning never reads."""
    derived = any(isinstance(i, TextInput | RenderInput | CopyInput) for i in av.spec.inputs)
    if not unpacks or av.spec.images.read or derived:
        return []
    if _recipe_adds(av):
        return []
    out = []
    for step in unpacks:
        try:
            dest = json.loads(step.params).get("dest")
        except ValueError:
            continue
        if isinstance(dest, str) and not _reads_dest(dest):
            out.append(step)
    return out
