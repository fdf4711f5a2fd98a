"""Printing ``inspect``: sections a reader scans top to bottom, sizes in KiB/MiB."""

from __future__ import annotations

from collections.abc import Callable

from clusterbuild.commands.inspect import Inspection


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def _table(rows: list[tuple[str, ...]], line: Callable[[str], None]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    for row in rows:
        line("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def print_inspection(found: Inspection, line: Callable[[str], None]) -> None:
    line(f"{found.ref}  ({found.where})")
    line(f"  digest    {found.digest}")
    line(f"  platforms {', '.join(found.platforms)}; shown: {found.platform} {found.manifest}")
    line(f"  type      {found.type}")
    line("labels:")
    _table([(key, value) for key, value in sorted(found.labels.items())], line)
    line("env:")
    for item in found.env:
        line(f"  {item}")
    line("sealos run executes (variables expanded from the image env):")
    for command in found.commands:
        line(f"  $ {command}")
    line("files:")
    _table([(t.name, f"{t.files} file{'' if t.files == 1 else 's'}", human_size(t.size))
            for t in found.files], line)
    line(f"registry/ images: {len(found.registry_images)}")
    _table([(i.reference, i.platform, i.digest, human_size(i.size)) for i in found.registry_images], line)
    line("layers:")
    _table([(la.digest[:19], la.media_type, human_size(la.size), la.created_by) for la in found.layers],
           line)
    line(f"sbom: {', '.join(found.sboms) if found.sboms else 'none'}")
    for media_type in found.not_read:
        line(f"note: a {media_type} layer was not read (files and registry/ may be incomplete)")
