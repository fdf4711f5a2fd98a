#!/usr/bin/env bash
# Installs (or upgrades) the harbor chart shipped in charts/.
# NAME, NAMESPACE, CHARTS and HELM_OPTS come from the image ENV (override with sealos run -e).
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME=${NAME:-harbor}
NAMESPACE=${NAMESPACE:-harbor}
CHARTS=${CHARTS:-./charts/harbor}
# HELM_OPTS is split into words on purpose.
# shellcheck disable=SC2086
helm upgrade -i "${NAME}" "${CHARTS}" -n "${NAMESPACE}" --create-namespace ${HELM_OPTS}
