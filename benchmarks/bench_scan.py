#!/usr/bin/env python3
"""Benchmark: image discovery (``clusterbuild.discover``) over 100 Helm charts in full mode.

What is scanned
    A generated chart of realistic size (``_helpers.tpl`` with name/label/image helpers,
    Deployment, StatefulSet, CronJob, hook Job, Service, Ingress, HPA, PDB, RBAC,
    NetworkPolicy, a 500-line ConfigMap, a gated ServiceMonitor and metrics sidecar, ~800 lines of
    values, one subchart behind a condition: 20 files, ~700 rendered lines per render; every
    object names ``.Release.Namespace``, as real charts do, so sealos' empty namespace is
    written into a copy of each chart before it renders),
    written under 100 names, each with its own values (image tags, registries,
    replicas, enabled features differ).

What is measured (median of ``--runs`` rounds, the cases interleaved within each round,
wall time with ``time.perf_counter``)
    a. per app: 100 calls of ``discover_images`` on a context with one chart each
       (how the planner calls it), full mode, defaults + one ``--set`` + one profile
       (3 renders per chart);
    b. one context holding the 100 charts (charts render on two threads), same options;
    c. as a, defaults only (1 render per chart);
    d. as a, sealos mode (1 render, line scan only).

Target: a < 10 s on a 2-core machine. Prints charts/s for each.
Usage: python benchmarks/bench_scan.py [--charts 100] [--runs 3]   (needs helm-python-sdk)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from clusterbuild.discover import DiscoverOptions, discover_images

HELPERS = """\
{{- define "app.name" -}}{{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "app.fullname" -}}{{ printf "%s-%s" .Release.Name (include "app.name" .) | trunc 63 }}{{- end -}}
{{- define "app.labels" -}}
app.kubernetes.io/name: {{ include "app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
{{- define "app.selector" -}}
app.kubernetes.io/name: {{ include "app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "app.image" -}}
{{- $registry := .image.registry -}}
{{- if and .global .global.imageRegistry }}{{ $registry = .global.imageRegistry }}{{ end -}}
{{- $ref := printf "%s:%s" .image.repository (toString .image.tag) -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- if .image.digest }}{{ $ref = printf "%s@%s" $ref .image.digest }}{{ end -}}
{{- $ref -}}
{{- end -}}
"""

POD = """\
      serviceAccountName: {{ include "app.fullname" . }}
      securityContext: {runAsNonRoot: true, fsGroup: 1001}
      initContainers:
        - name: wait
          image: {{ include "app.image" (dict "image" .Values.init.image "global" .Values.global) }}
          command: ["sh", "-c", "until nc -z db 5432; do sleep 1; done"]
      containers:
        - name: {{ include "app.name" . }}
          image: {{ include "app.image" (dict "image" .Values.image "global" .Values.global) | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          args: ["--port={{ .Values.service.port }}", "--log-level=info"]
          env:
            - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - name: HELPER_IMAGE
              value: {{ include "app.image" (dict "image" .Values.helper.image "global" .Values.global) }}
          ports: [{name: http, containerPort: {{ .Values.service.port }}}]
          livenessProbe: {httpGet: {path: /healthz, port: http}, initialDelaySeconds: 10}
          readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 5}
          resources: {{- toYaml .Values.resources | nindent 12 }}
          volumeMounts: [{name: config, mountPath: /etc/app}]
        {{- if .Values.metrics.enabled }}
        - name: metrics
          image: {{ include "app.image" (dict "image" .Values.metrics.image) }} # sidecar
        {{- end }}
      volumes: [{name: config, configMap: {name: {{ include "app.fullname" . }}}}]
"""



def meta(suffix: str = "") -> str:
    return (f'metadata:\n  name: {{{{ include "app.fullname" . }}}}{suffix}\n'
            '  namespace: {{ .Release.Namespace | quote }}\n'
            '  labels: {{- include "app.labels" . | nindent 4 }}\n')


def image(values_path: str) -> str:
    return f'{{{{ include "app.image" (dict "image" .Values.{values_path} "global" .Values.global) }}}}'


TEMPLATES = {
    "deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\n" + meta() + """\
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels: {{- include "app.selector" . | nindent 6 }}
  template:
    metadata:
      labels: {{- include "app.labels" . | nindent 8 }}
    spec:
""" + POD,
    "statefulset.yaml": "{{- if .Values.persistence.enabled }}\napiVersion: apps/v1\nkind: StatefulSet\n"
    + meta("-data") + "spec:\n  serviceName: data\n  template:\n    spec:\n" + POD + "{{- end }}\n",
    "cronjob.yaml": "apiVersion: batch/v1\nkind: CronJob\n" + meta("-backup") + """\
spec:
  schedule: {{ .Values.backup.schedule | quote }}
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: backup, image: IMAGE}]
""".replace("IMAGE", image("backup.image")),
    "hook-job.yaml": "apiVersion: batch/v1\nkind: Job\n" + meta("-migrate") + """\
  annotations: {"helm.sh/hook": pre-install, "helm.sh/hook-weight": "-5"}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: IMAGE
          args: [migrate, --to=latest]
""".replace("IMAGE", image("image")),
    "service.yaml": "apiVersion: v1\nkind: Service\n" + meta() + """\
spec:
  type: {{ .Values.service.type }}
  ports: [{port: {{ .Values.service.port }}, targetPort: http, name: http}]
  selector: {{- include "app.selector" . | nindent 4 }}
""",
    "serviceaccount.yaml": "apiVersion: v1\nkind: ServiceAccount\n" + meta(),
    "role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n" + meta() + """\
rules:
  - apiGroups: [""]
    resources: [configmaps, secrets, pods]
    verbs: [get, list, watch]
""",
    "rolebinding.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n" + meta() + """\
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: {{ include "app.fullname" . }}}
subjects: [{kind: ServiceAccount, name: {{ include "app.fullname" . }}}]
""",
    "pdb.yaml": "apiVersion: policy/v1\nkind: PodDisruptionBudget\n" + meta() + """\
spec:
  minAvailable: 1
  selector:
    matchLabels: {{- include "app.selector" . | nindent 6 }}
""",
    "hpa.yaml": "{{- if .Values.autoscaling.enabled }}\napiVersion: autoscaling/v2\n"
    "kind: HorizontalPodAutoscaler\n" + meta() + """\
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: {{ include "app.fullname" . }}}
  minReplicas: 1
  maxReplicas: {{ .Values.autoscaling.max }}
{{- end }}
""",
    "ingress.yaml": "{{- if .Values.ingress.enabled }}\napiVersion: networking.k8s.io/v1\nkind: Ingress\n"
    + meta() + """\
spec:
  rules:
    {{- range .Values.ingress.hosts }}
    - host: {{ . }}
      http:
        paths: [{path: /, pathType: Prefix, backend: {service: {name: svc, port: {number: 80}}}}]
    {{- end }}
{{- end }}
""",
    "networkpolicy.yaml": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n" + meta() + """\
spec:
  podSelector:
    matchLabels: {{- include "app.selector" . | nindent 6 }}
  ingress: [{from: [{podSelector: {}}]}]
""",
    "servicemonitor.yaml": "{{- if .Values.metrics.enabled }}\napiVersion: monitoring.coreos.com/v1\n"
    "kind: ServiceMonitor\n" + meta() + "spec:\n  endpoints: [{port: metrics}]\n{{- end }}\n",
    "configmap.yaml": "apiVersion: v1\nkind: ConfigMap\n" + meta() + "data:\n  app.yaml: |\n"
    + "".join(f"    setting{i}: value-{i}\n" for i in range(500)),
}

SUBCHART = {
    "Chart.yaml": "apiVersion: v2\nname: cache\nversion: 1.2.0\n",
    "values.yaml": "image: {registry: docker.io, repository: bench/cache, tag: \"7.2.%d\"}\n",
    "templates/statefulset.yaml": """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-cache
spec:
  template:
    spec:
      containers:
        - name: cache
          image: {{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}
""",
}


def values(index: int) -> str:
    def ref(registry: str, repository: str, tag: str) -> str:
        return f"{{registry: {registry}, repository: {repository}, tag: \"{tag}\"}}"

    lines = [
        "global: {imageRegistry: \"\"}", f"replicaCount: {1 + index % 3}", "nameOverride: \"\"",
        "image:", f"  registry: {'quay.io' if index % 2 else 'docker.io'}", f"  repository: bench/app{index}",
        f"  tag: \"1.{index}.0\"", "  digest: \"\"", "  pullPolicy: IfNotPresent",
        f"init: {{image: {ref('docker.io', 'library/busybox', f'1.36.{index % 4}')}}}",
        f"helper: {{image: {ref('ghcr.io', 'bench/helper', f'v{index % 5}')}}}",
        f"backup: {{schedule: \"0 3 * * *\", image: {ref('docker.io', 'bench/backup', str(index))}}}",
        f"metrics: {{enabled: false, image: {ref('quay.io', 'bench/exporter', f'0.{index}')}}}",
        f"persistence: {{enabled: {str(index % 2 == 0).lower()}, size: 8Gi}}",
        "service: {type: ClusterIP, port: 8080}", "autoscaling: {enabled: false, max: 5}",
        f"ingress: {{enabled: {str(index % 3 == 0).lower()}, hosts: [a{index}.example.com, b.example.com]}}",
        "cache: {enabled: true}",
        "resources:", "  limits: {cpu: 500m, memory: 512Mi}", "  requests: {cpu: 100m, memory: 128Mi}",
    ]
    lines += [f"# option {i}: documented default\nextra{i}: {{enabled: false, level: {i}}}"
              for i in range(400)]
    return "\n".join(lines) + "\n"


def write_chart(charts: Path, index: int) -> None:
    root = charts / f"app{index:03d}"
    chart_yaml = (f"apiVersion: v2\nname: app{index:03d}\nversion: 0.{index}.0\nappVersion: \"1.{index}\"\n"
                  "dependencies: [{name: cache, version: 1.2.0, condition: cache.enabled}]\n")
    files = {"Chart.yaml": chart_yaml, "values.yaml": values(index), "templates/_helpers.tpl": HELPERS,
             **{f"templates/{name}": text for name, text in TEMPLATES.items()},
             **{f"charts/cache/{name}": text.replace("%d", str(index)) for name, text in SUBCHART.items()}}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def context(root: Path) -> dict[str, Path]:
    return {path.relative_to(root).as_posix(): path for path in sorted(root.rglob("*")) if path.is_file()}


def measure(runs: int, cases: dict[str, Callable[[], int]]) -> dict[str, tuple[float, int]]:
    """Median wall time and the images found per case, the cases interleaved: round r runs
    every case once (in an order rotated by r) before round r + 1, so a change in the
    machine's load during the run falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    found: dict[str, int] = {}
    names = list(cases)
    for round_ in range(runs):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            start = time.perf_counter()
            found[name] = cases[name]()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), found[name]) for name in names}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as temp:
        apps = []
        for index in range(args.charts):
            write_chart(Path(temp) / f"app{index}" / "charts", index)
            apps.append(context(Path(temp) / f"app{index}"))
        together = {key: path for app in apps for key, path in app.items()}
        all_on = {"metrics": {"enabled": True}, "persistence": {"enabled": True}}
        busy = DiscoverOptions(helm_set=("--set", "autoscaling.enabled=true"), profiles={"all-on": all_on})
        discover_images(apps[0], busy)  # load the library once, outside the timing

        def per_app(options: DiscoverOptions) -> Callable[[], int]:
            return lambda: sum(len(discover_images(app, options)) for app in apps)

        cases = {
            "a. per app, full, defaults + --set + profile": per_app(busy),
            "b. one context, full, defaults + --set + profile": lambda: len(discover_images(together, busy)),
            "c. per app, full, defaults only": per_app(DiscoverOptions()),
            "d. per app, sealos mode": per_app(DiscoverOptions(mode="sealos")),
        }
        print(f"{args.charts} charts, {len(apps[0])} files each, median of {args.runs} runs")
        results = {}
        for name, (seconds, found) in measure(args.runs, cases).items():
            results[name] = seconds
            print(f"{name:<52} {seconds:6.2f} s  {args.charts / seconds:7.1f} charts/s  {found} images")
        verdict = "PASS" if results["a. per app, full, defaults + --set + profile"] < 10 else "MISS"
        print(f"target a < 10 s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
