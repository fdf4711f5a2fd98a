"""The files ``clusterbuild new`` writes, per kind of upstream source: the catalogue's shape
(``latest/Kubefile``, the install script its CMD runs, ``latest/clusterbuild.yaml``) with
the README one level up, outside the build context: ``COPY . .`` ships the context (charts/,
manifests/, opt/, the registry/ of the images found, the script) and never the README."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from clusterbuild.errors import UsageError

SCRIPT_MODE, FILE_MODE = 0o755, 0o644
ARCHIVES = (".tar.gz", ".tgz", ".tar.xz", ".tar", ".zip")


@dataclass(frozen=True)
class Source:
    kind: str  # chart, oci, manifest, binary
    url: str  # chart repository URL, oci:// reference, or file URL
    name: str = ""  # chart name
    version: str = ""  # chart version given with @

    @classmethod
    def parse(cls, kind: str, text: str) -> Source:
        body, _, version = text.rpartition("@") if kind in ("chart", "oci") and "@" in text \
            else (text, "", "")
        if kind in ("chart", "oci"):
            repo, _, name = body.rstrip("/").rpartition("/")
            if not repo or not name:
                raise UsageError(f"--{kind} {text}: expected {_FORMS[kind]}",
                                 hint=f"e.g. --{kind} {_EXAMPLES[kind]}")
            if kind == "oci" and not body.startswith("oci://"):
                raise UsageError(f"--oci {text}: not an oci:// reference",
                                 hint=f"e.g. --oci {_EXAMPLES['oci']}")
            return cls(kind, body if kind == "oci" else repo, name, version)
        if not text.startswith(("http://", "https://")):
            raise UsageError(f"--{kind} {text}: not an http(s) URL", hint=f"e.g. --{kind} {_EXAMPLES[kind]}")
        return cls(kind, text)


_FORMS = {"chart": "REPO/NAME[@VERSION]", "oci": "oci://HOST/PATH/NAME[@VERSION]"}
_EXAMPLES = {"chart": "https://charts.jetstack.io/cert-manager@v1.21.1",
             "oci": "oci://registry-1.docker.io/bitnamicharts/redis@22.0.7",
             "manifest": "https://github.com/org/app/releases/download/v1.0.0/install.yaml",
             "binary": "https://github.com/org/tool/releases/download/v1.0.0/tool-linux-{{ arch }}.tar.gz"}


def _templated(url: str, version: str) -> str:
    """The URL with the app's version written as ``{{ version }}`` (so new versions need no edit)."""
    return url.replace(version, "{{ version }}") if version and version in url else url


def _chart_files(app: str, source: Source) -> dict[str, str]:
    where = f"oci: {source.url}" if source.kind == "oci" else f"repo: {source.url}\n    name: {source.name}"
    spec = (f"# Declared inputs of {app}. Schema: `clusterbuild schema app`.\n"
            "# The apps.yaml version is the chart version (`clusterbuild lock` pins its digest).\n"
            f"inputs:\n  - kind: chart\n    {where}\n    version: \"{{{{ version }}}}\"\n")
    kubefile = (f'FROM scratch\nENV NAME=${{NAME:-"{app}"}}\nENV NAMESPACE=${{NAMESPACE:-"{app}"}}\n'
                f'ENV CHARTS=${{CHARTS:-"./charts/{source.name}"}}\nENV HELM_OPTS=${{HELM_OPTS:-""}}\n'
                'LABEL sealos.io.type="application"\nCOPY . .\nCMD ["bash ' + app + '.sh"]\n')
    script = (f"#!/usr/bin/env bash\n# Installs (or upgrades) the {source.name} chart shipped in charts/.\n"
              "# NAME, NAMESPACE, CHARTS and HELM_OPTS come from the image ENV (sealos run -e).\n"
              'set -e\ncd "$(dirname "${BASH_SOURCE[0]}")"\n'
              "# HELM_OPTS is split into words on purpose.\n# shellcheck disable=SC2086\n"
              'helm upgrade -i "${NAME}" "${CHARTS}" -n "${NAMESPACE}" --create-namespace ${HELM_OPTS}\n')
    return {"clusterbuild.yaml": spec, "Kubefile": kubefile, f"{app}.sh": script}


def _manifest_files(app: str, url: str) -> dict[str, str]:
    spec = (f"# Declared inputs of {app}. Schema: `clusterbuild schema app`.\n"
            f"inputs:\n  - kind: manifest\n    url: \"{url}\"\n")
    kubefile = ('FROM scratch\nENV NAMESPACE=${NAMESPACE:-"' + app + '"}\n'
                'LABEL sealos.io.type="application"\n'
                f'COPY . .\nCMD ["bash {app}.sh"]\n')
    script = ('#!/usr/bin/env bash\nset -e\ncd "$(dirname "${BASH_SOURCE[0]}")"\n'
              "kubectl apply -f manifests/\n")
    return {"clusterbuild.yaml": spec, "Kubefile": kubefile, f"{app}.sh": script}


def _binary_files(app: str, url: str) -> dict[str, str]:
    base = PurePosixPath(url.split("?")[0]).name
    archive = base.endswith(ARCHIVES)
    tool = app if archive else base
    member = (f"    member: \"{tool}\"   # the binary's path inside the archive: check it\n"
              if archive else "")
    arch_note = "" if "{{ arch }}" in url else \
        "# One binary per platform: write the architecture in the URL as {{ arch }}.\n"
    spec = (f"# Declared inputs of {app}. Schema: `clusterbuild schema app`.\n{arch_note}"
            f"inputs:\n  - kind: binary\n    url: \"{url}\"\n{member}    dest: opt/{tool}\n")
    kubefile = f'FROM scratch\nLABEL sealos.io.type="application"\nCOPY . .\nCMD ["bash {app}.sh"]\n'
    script = ('#!/usr/bin/env bash\nset -e\ncd "$(dirname "${BASH_SOURCE[0]}")"\n'
              f"install -m 0755 opt/{tool} /usr/bin/{tool}\n")
    return {"clusterbuild.yaml": spec, "Kubefile": kubefile, f"{app}.sh": script}


_CONFIGMAP = {
    "Kubefile": 'FROM scratch\nENV NAMESPACE=${{NAMESPACE:-"{app}"}}\nCOPY manifests manifests\n'
                'COPY entrypoint.sh entrypoint.sh\nCMD ["bash entrypoint.sh"]\n',
    "entrypoint.sh": '#!/usr/bin/env bash\nset -euo pipefail\ncd "$(dirname "${{BASH_SOURCE[0]}}")"\n'
                     'kubectl create namespace "${{NAMESPACE:-{app}}}" --dry-run=client -o yaml | '
                     'kubectl apply -f -\nkubectl apply -n "${{NAMESPACE:-{app}}}" -f manifests/\n',
    "manifests/{app}.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}\ndata:\n"
                            "  greeting: hello from {app}\n",
}


def _readme(app: str, version: str, source: Source | None) -> str:
    what = {"chart": f"the Helm chart `{source.name}` of {source.url}" if source else "",
            "oci": f"the Helm chart {source.url}" if source else "",
            "manifest": f"the manifest {source.url}" if source else "",
            "binary": f"the binary {source.url}" if source else ""}.get(source.kind if source else "", "")
    return (f"# {app}\n\nInstalls {what or 'a ConfigMap (a starting point: replace manifests/)'}.\n\n"
            f"## Versions\n\nBuilt for the platforms of apps.yaml: `{version}`.\n\n"
            f"## Install\n\n```bash\nsealos run <registry>/{app}:{version}\n```\n\n"
            "## Uninstall\n\nSay how to remove what it installed.\n")


def app_files(app: str, version: str, source: Source | None) -> dict[str, tuple[str, int]]:
    """Path under ``applications/<app>/`` -> (text, mode)."""
    if source is None:
        inner = {rel.format(app=app): text.format(app=app) for rel, text in _CONFIGMAP.items()}
    elif source.kind in ("chart", "oci"):
        inner = _chart_files(app, source)
    elif source.kind == "manifest":
        inner = _manifest_files(app, _templated(source.url, version))
    else:
        inner = _binary_files(app, _templated(source.url, version))
    files = {f"latest/{rel}": (text, SCRIPT_MODE if rel.endswith(".sh") else FILE_MODE)
             for rel, text in inner.items()}
    files["README.md"] = (_readme(app, version, source), FILE_MODE)
    return files
