#!/usr/bin/env bash
# Installs (or upgrades) the longhorn chart shipped in charts/.
# Every node needs open-iscsi (iscsid running) and an NFSv4 client for RWX volumes.
# NAME, NAMESPACE, CHARTS and HELM_OPTS come from the image ENV (override with sealos run -e).
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME=${NAME:-longhorn}
NAMESPACE=${NAMESPACE:-longhorn-system}
CHARTS=${CHARTS:-./charts/longhorn}
# HELM_OPTS is split into words on purpose.
# shellcheck disable=SC2086
helm upgrade -i "${NAME}" "${CHARTS}" -n "${NAMESPACE}" --create-namespace ${HELM_OPTS}
