#!/usr/bin/env bash
# sealos has rendered manifests/spin-hello.yaml.tmpl into manifests/spin-hello.yaml with the
# image env merged with `sealos run -e` (REPLICAS, NODE_PORT, NAMESPACE, RUNTIME_CLASS).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if ! kubectl get runtimeclass "${RUNTIME_CLASS}" >/dev/null 2>&1; then
  echo "spin-hello: RuntimeClass ${RUNTIME_CLASS} is missing;" \
       "run docker.io/labring/containerd-shim-spin first" >&2
  exit 1
fi
kubectl create namespace "${NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n "${NAMESPACE}" -f manifests/spin-hello.yaml
