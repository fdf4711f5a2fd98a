"""``clusterbuild new``: an app directory that builds as it is, listed in apps.yaml."""

from __future__ import annotations

import re
from pathlib import Path

from clusterbuild.errors import InputError
from clusterbuild.schema.models import APP_NAME, VERSION
from clusterbuild.workspace.load import APPS_DIR, LATEST, WORKSPACE_FILE

KUBEFILE = """\
FROM scratch
ENV NAMESPACE=${{NAMESPACE:-"{name}"}}
COPY . .
CMD ["bash entrypoint.sh"]
"""

ENTRYPOINT = """\
#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "${{BASH_SOURCE[0]}}")"
kubectl create namespace "${{NAMESPACE:-{name}}}" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n "${{NAMESPACE:-{name}}}" -f manifests/
"""

MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  greeting: hello from {name}
"""

README = """\
# {name}

A cluster image built with clusterbuild. Install it with `sealos run <registry>/{name}:<version>`.
"""


def _with_app(path: Path, name: str, version: str) -> str:
    """The text of apps.yaml with the app added under ``apps:`` (comments kept)."""
    text = path.read_text(encoding="utf-8")
    match = re.search(r"^apps:[ \t]*(#.*)?$", text, flags=re.MULTILINE)
    if match is None:
        raise InputError(f"{path}: no block-style 'apps:' mapping to add {name} to",
                         hint=f"add '  {name}:\\n    versions: [{version}]' under apps: by hand")
    indent = re.search(r"\n([ \t]+)\S", text[match.end():])
    pad = indent.group(1) if indent else "  "
    entry = f"\n{pad}{name}:\n{pad}{pad}versions: [\"{version}\"]"
    return text[:match.end()] + entry + text[match.end():]


def scaffold_app(root: Path, name: str, version: str) -> list[str]:
    if not APP_NAME.match(name):
        raise InputError(f"app name {name!r} is not valid",
                         hint="use lower-case letters, digits, '.', '_' and '-'")
    if not VERSION.match(version):
        raise InputError(f"version {version!r} is not valid", hint="e.g. v1.2.3")
    apps_yaml = root / WORKSPACE_FILE
    if not apps_yaml.is_file():
        raise InputError(f"{apps_yaml}: not found", hint="run in a workspace, or pass -C DIR")
    app_dir = root / APPS_DIR / name / LATEST
    if (root / APPS_DIR / name).exists():
        raise InputError(f"{root / APPS_DIR / name} already exists", hint="choose another name")
    new_apps_yaml = _with_app(apps_yaml, name, version)  # fails before anything is written
    files = {"Kubefile": KUBEFILE, "entrypoint.sh": ENTRYPOINT,
             f"manifests/{name}.yaml": MANIFEST, "README.md": README}
    for rel, template in files.items():
        path = app_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(name=name), encoding="utf-8")
    (app_dir / "entrypoint.sh").chmod(0o755)
    apps_yaml.write_text(new_apps_yaml, encoding="utf-8")
    return [f"created {app_dir.relative_to(root)}/", f"added {name} {version} to {WORKSPACE_FILE}",
            f"next: clusterbuild plan {name}"]
