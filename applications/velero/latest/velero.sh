#!/usr/bin/env bash
# Installs (or upgrades) the velero chart shipped in charts/.
# A backup storage location and a provider plugin are given in HELM_OPTS (see README.md).
# NAME, NAMESPACE, CHARTS and HELM_OPTS come from the image ENV (override with sealos run -e).
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME=${NAME:-velero}
NAMESPACE=${NAMESPACE:-velero}
CHARTS=${CHARTS:-./charts/velero}
# HELM_OPTS is split into words on purpose.
# shellcheck disable=SC2086
helm upgrade -i "${NAME}" "${CHARTS}" -n "${NAMESPACE}" --create-namespace ${HELM_OPTS}
