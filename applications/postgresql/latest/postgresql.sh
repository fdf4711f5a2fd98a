#!/usr/bin/env bash
# Installs (or upgrades) the Bitnami postgresql chart shipped in charts/postgresql.
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
helm upgrade -i "${NAME}" "${CHARTS}" -n "${NAMESPACE}" --create-namespace ${HELM_OPTS}
