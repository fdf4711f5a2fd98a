#!/usr/bin/env bash
# Installs (or upgrades) the local-path-provisioner chart shipped in charts/local-path-provisioner.
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
helm upgrade -i "${NAME}" "${CHARTS}" -n "${NAMESPACE}" --create-namespace ${HELM_OPTS}
