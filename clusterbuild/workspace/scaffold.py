"""``clusterbuild init`` (a workspace in an empty directory) and ``clusterbuild new`` (an app
directory shaped like the catalogue's, listed in apps.yaml).

``new APP`` alone writes a small ConfigMap app that builds offline; with ``--chart
REPO/NAME[@VERSION]``, ``--oci oci://HOST/PATH/NAME[@VERSION]``, ``--manifest URL`` or
``--binary URL`` it writes the declared input, a Kubefile that copies only what it ships, and
the install script its CMD runs. The app's README goes to ``applications/<app>/README.md``, as
in the catalogue: outside the build context, never in the image."""

from __future__ import annotations

import re
from pathlib import Path

from clusterbuild.errors import InputError
from clusterbuild.schema.models import APP_NAME, VERSION
from clusterbuild.workspace.load import APPS_DIR, LATEST, WORKSPACE_FILE
from clusterbuild.workspace.scaffold_files import Source, app_files

APPS_YAML = """\
# The clusterbuild workspace: which apps to build, for which platforms, and where the images go.
# Schema: `clusterbuild schema workspace`. Add an app: `clusterbuild new APP --chart REPO/NAME@VERSION`.
registry: {registry}
platforms: [{platforms}]
output:
  layout: out
apps: {{}}
"""
GITIGNORE = "/out/\n/cache/\n.clusterbuild.lock\n"


def init_workspace(root: Path, registry: str, platforms: list[str]) -> list[str]:
    """apps.yaml, applications/ and a .gitignore in ``root`` (made if missing); refuses a
    directory that already has an apps.yaml."""
    apps_yaml = root / WORKSPACE_FILE
    if apps_yaml.exists():
        raise InputError(f"{apps_yaml}: already exists", hint="this is a workspace already; "
                         "add apps with `clusterbuild new APP`")
    apps_dir = root / APPS_DIR
    found = sorted(p.name for p in apps_dir.iterdir() if p.is_dir()) if apps_dir.is_dir() else []
    apps_dir.mkdir(parents=True, exist_ok=True)
    apps_yaml.write_text(APPS_YAML.format(registry=registry, platforms=", ".join(platforms)),
                         encoding="utf-8")
    kept = (f"kept {APPS_DIR}/ ({len(found)} app dir{'' if len(found) == 1 else 's'}: list the ones to "
            f"build, with their versions, under apps: in {WORKSPACE_FILE})") if found else ""
    written = [f"created {WORKSPACE_FILE}", kept or f"created {APPS_DIR}/"]
    if not (root / ".gitignore").exists():
        (root / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
        written.append("created .gitignore (out/, cache/)")
    return [*written, "next: clusterbuild new APP --chart REPO/NAME@VERSION (or plain `new APP`)"]


def _with_app(path: Path, name: str, version: str) -> str:
    """The text of apps.yaml with the app added under ``apps:`` (comments kept). An empty
    ``apps: {}`` becomes a block; a file with no ``apps:`` gets one at the end."""
    text = path.read_text(encoding="utf-8")
    empty = re.search(r"^apps:[ \t]*\{[ \t]*\}[ \t]*(#.*)?$", text, flags=re.MULTILINE)
    if empty is not None:
        text = text[:empty.start()] + "apps:" + text[empty.end():]
    match = re.search(r"^apps:[ \t]*(#.*)?$", text, flags=re.MULTILINE)
    if match is None and re.search(r"^apps:", text, flags=re.MULTILINE) is None:
        text = text.rstrip("\n") + "\napps:"
        match = re.search(r"^apps:$", text, flags=re.MULTILINE)
    if match is None:
        raise InputError(f"{path}: apps: is written in flow style, so {name} cannot be added "
                         "without rewriting it", hint=f"write apps: as a block (one app per line), "
                         f"or add `{name}: {{versions: [\"{version}\"]}}` to it by hand")
    indent = re.search(r"\n([ \t]+)\S", text[match.end():])
    pad = indent.group(1) if indent else "  "
    entry = f"\n{pad}{name}:\n{pad}{pad}versions: [\"{version}\"]"
    out = text[:match.end()] + entry + text[match.end():]
    return out if out.endswith("\n") else out + "\n"


def scaffold_app(root: Path, name: str, version: str | None, source: Source | None = None) -> list[str]:
    version = version or (source.version if source else "") or "v0.1.0"
    if not APP_NAME.match(name):
        raise InputError(f"app name {name!r} is not valid",
                         hint="use lower-case letters, digits, '.', '_' and '-'")
    if not VERSION.match(version):
        raise InputError(f"version {version!r} is not valid", hint="e.g. v1.2.3")
    apps_yaml = root / WORKSPACE_FILE
    if not apps_yaml.is_file():
        raise InputError(f"{apps_yaml}: not found", hint="run `clusterbuild init` first, or pass -C DIR")
    app_root = root / APPS_DIR / name
    if app_root.exists():
        raise InputError(f"{app_root} already exists", hint="choose another name")
    new_apps_yaml = _with_app(apps_yaml, name, version)  # fails before anything is written
    for rel, (text, mode) in app_files(name, version, source).items():
        path = app_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)
    apps_yaml.write_text(new_apps_yaml, encoding="utf-8")
    fetches = source is not None
    return [f"created {app_root.relative_to(root)}/{LATEST}/ and {APPS_DIR}/{name}/README.md",
            f"added {name} {version} to {WORKSPACE_FILE}",
            f"next: clusterbuild check {name}" + (f" && clusterbuild lock {name}" if fetches else "")
            + f" && clusterbuild apply {name}"]
