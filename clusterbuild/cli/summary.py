"""The table at the end of ``apply``: one row per app version built or checked — platforms,
the index digest, the size of its platform images (blobs in the layout) and the time its
steps took in this run."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from clusterbuild.cli.progress import human_bytes
from clusterbuild.commands.build import Applied
from clusterbuild.oci.digest import Digest
from clusterbuild.places.layout import OciLayout
from clusterbuild.plan.steps import ExportStep


@dataclass(frozen=True)
class Row:
    app: str
    version: str
    platforms: str
    digest: str
    size: int
    seconds: float

    def cells(self) -> tuple[str, ...]:
        return (self.app, self.version, self.platforms, self.digest[:19], human_bytes(self.size),
                f"{self.seconds:.2f}s")


HEADERS = ("app", "version", "platforms", "digest", "size", "time")


def _image_size(layout: OciLayout, digest: Digest) -> int:
    """Manifest + config + layers of one platform image in the layout (0 when absent)."""
    try:
        manifest = json.loads(layout.blob_path(digest).read_bytes())
    except (OSError, ValueError):
        return 0
    parts = [manifest.get("config", {}), *manifest.get("layers", [])]
    return layout.blob_path(digest).stat().st_size + sum(int(p.get("size", 0)) for p in parts)


def summary_rows(applied: Applied) -> list[Row]:
    layout = OciLayout(applied.planned.workspace.layout_dir)
    exported = dict(applied.exported)
    seconds: dict[tuple[str, str], float] = defaultdict(float)
    for run in applied.ran:
        seconds[(run.step.app, run.step.version)] += run.seconds
    rows = []
    for step in applied.planned.plan.steps:
        if not isinstance(step, ExportStep) or step.index_ref not in exported:
            continue
        size = sum(_image_size(layout, exported[ref].digest) for ref in step.platform_refs if ref in exported)
        rows.append(Row(step.app, step.version, ",".join(str(p) for p in step.platforms),
                        str(exported[step.index_ref].digest), size, seconds[(step.app, step.version)]))
    return rows


def summary_table(rows: list[Row]) -> list[str]:
    """The rows as aligned plain text, headers first."""
    table = [HEADERS, *(row.cells() for row in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
