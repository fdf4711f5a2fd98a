#!/usr/bin/env bash
# Installs (or upgrades) the MinIO Operator chart shipped in charts/operator.
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
helm upgrade -i "${NAME}" "${CHARTS}" -n "${NAMESPACE}" --create-namespace ${HELM_OPTS}
