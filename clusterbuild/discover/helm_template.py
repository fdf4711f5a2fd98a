"""A chart rendered as ``helm template NAME CHART -n NS --set ...`` prints it: one text.

    text = template_text(Path("charts/openebs"), "charts/openebs", name="openebs",
                         namespace="openebs", values={"jiva": {"enabled": True}})

The render is Helm's own (the SDK, as an install: ``.Release.IsInstall`` true, the namespace
``default`` when none is given); the text is put together as ``helm template`` does it:
NOTES.txt and partials (``_*``) left out, each template split into its YAML documents
(``---`` lines), blank ones dropped; the documents that are not hooks first, ordered by
Helm's install order of kinds (unknown kinds after, by name) and, within a kind, by template
path and place in the file; then the hooks in the same order. Each is written as
``---\\n# Source: <chart>/templates/<file>\\n<document>\\n``.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from clusterbuild.discover.helm_render import RENDERS, _library, _render_error, check_dependencies, load_chart
from clusterbuild.discover.model import plain
from clusterbuild.errors import InputError

INSTALL_ORDER = (  # Helm's InstallOrder of kinds (pkg/release/v1/util/kind_sorter.go)
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
    "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_RANK = {kind: n for n, kind in enumerate(INSTALL_ORDER)}
_SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")
_HOOK = "helm.sh/hook"
_HOOK_EVENTS = {"pre-install", "post-install", "pre-delete", "post-delete", "pre-upgrade", "post-upgrade",
                "pre-rollback", "post-rollback", "test", "test-success"}
DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Document:
    source: str  # the template's path, chart name first
    text: str
    kind: str
    hook: bool


def template_text(path: Path, where: str, *, name: str, namespace: str, values: Mapping[str, Any]) -> str:
    """What ``helm template`` prints for the chart at ``path`` (``where`` names it in errors)."""
    helm = _library()
    chart = load_chart(path, where)
    check_dependencies(path, where, chart)
    RENDERS.add()
    options = {"name": name, "namespace": namespace or DEFAULT_NAMESPACE, "is_install": True}
    with chart:
        try:
            rendered: dict[str, str] = json.loads(helm._native.call_string(
                "helm_render", chart._raw(), json.dumps(plain(values)), json.dumps(options)))
        except helm.HelmError as exc:
            raise _render_error(exc.detail, where, f"release {name}") from None
    documents = [d for source in sorted(rendered) for d in _documents(source, rendered[source], where)]
    ordered = sorted((d for d in documents if not d.hook), key=_order) \
        + sorted((d for d in documents if d.hook), key=_order)
    return "".join(f"---\n# Source: {d.source}\n{d.text}\n" for d in ordered)


def _documents(source: str, text: str, where: str) -> list[Document]:
    """The YAML documents of one rendered template (none for NOTES.txt and partials)."""
    if source.endswith("NOTES.txt") or posixpath.basename(source).startswith("_") or not text.strip():
        return []
    out = []
    for part in _SEPARATOR.split(text.strip()):
        document = part.strip()
        if not document:
            continue
        try:
            head = yaml.safe_load(document)
        except yaml.YAMLError as exc:
            detail = " ".join(str(exc).split())
            raise InputError(f"{where}: {source} renders YAML that does not parse ({detail})",
                             hint="fix the chart's template or the values it is rendered with") from None
        head = head if isinstance(head, dict) else {}
        annotations = _field(_field(head, "metadata"), "annotations")
        events = str(annotations.get(_HOOK, "")).split(",") if _HOOK in annotations else []
        if events and not all(e.strip().lower() in _HOOK_EVENTS for e in events):
            continue  # an unknown hook: Helm skips it
        out.append(Document(source, document, str(head.get("kind") or ""), bool(events)))
    return out


def _field(value: dict[str, Any], key: str) -> dict[str, Any]:
    found = value.get(key)
    return found if isinstance(found, dict) else {}


def _order(document: Document) -> tuple[int, str]:
    """Helm's order of kinds (stable: documents keep their order within a kind)."""
    rank = _RANK.get(document.kind)
    return (rank, "") if rank is not None else (len(INSTALL_ORDER), document.kind)
