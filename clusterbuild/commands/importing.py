"""``clusterbuild import``: an app's init.sh as a declarative spec, with what was not converted."""

from __future__ import annotations

from pathlib import Path

from clusterbuild.errors import InputError
from clusterbuild.workspace.legacy import SCRIPT
from clusterbuild.workspace.load import APPS_DIR, LATEST


def _app_dir(root: Path, target: str) -> Path:
    app, _, version = target.partition(":")
    base = root / APPS_DIR / app
    for candidate in ([base / version] if version else []) + [base / LATEST]:
        if (candidate / SCRIPT).is_file():
            return candidate
    raise InputError(f"{base}: no {SCRIPT} in {version + '/ or ' if version else ''}{LATEST}/",
                     hint="import reads an app dir of the catalogue that has an init.sh")


def import_app(root: Path, target: str, write: bool) -> list[str]:
    """The converted spec, whose header lists what was not converted (or where it was written)."""
    from clusterbuild.importer import convert_init_sh, write_conversion

    app_dir = _app_dir(root, target)
    script = (app_dir / SCRIPT).read_text(encoding="utf-8", errors="replace")
    conversion = convert_init_sh(script, target.partition(":")[0],
                                 str((app_dir / SCRIPT).relative_to(root)), app_dir)
    lines = [f"wrote {write_conversion(app_dir, conversion)}"] if write else \
        [conversion.yaml_text.rstrip("\n")]
    converted = len(conversion.converted)
    lines.append(f"# {converted} script line{'' if converted == 1 else 's'} converted; "
                 f"{len(conversion.skipped)} not converted:")
    lines += [f"#   {reason}" for reason in conversion.skipped]
    if write:
        lines.append(f"next: review it, remove {SCRIPT} (or keep it for reference), then "
                     f"`clusterbuild lock {target.partition(':')[0]}`")
    return lines
