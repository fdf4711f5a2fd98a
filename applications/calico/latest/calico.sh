#!/usr/bin/env bash
# Installs (or upgrades) Calico through the tigera-operator chart shipped in charts/: the
# operator, its CRDs and the default Installation/APIServer resources; the operator then
# deploys Calico itself (calico-system namespace).
# NAME, NAMESPACE, CHARTS and HELM_OPTS come from the image ENV (override with sealos run -e).
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME=${NAME:-calico}
NAMESPACE=${NAMESPACE:-tigera-operator}
CHARTS=${CHARTS:-./charts/tigera-operator}
# HELM_OPTS is split into words on purpose.
# shellcheck disable=SC2086
helm upgrade -i "${NAME}" "${CHARTS}" -n "${NAMESPACE}" --create-namespace ${HELM_OPTS}
