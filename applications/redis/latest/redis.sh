#!/usr/bin/env bash
# Installs (or upgrades) the Bitnami redis chart shipped in charts/redis.
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
helm upgrade -i "${NAME}" "${CHARTS}" -n "${NAMESPACE}" --create-namespace ${HELM_OPTS}
