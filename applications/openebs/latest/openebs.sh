#!/usr/bin/env bash
# Installs (or upgrades) the openebs umbrella chart shipped in charts/ (Local PV Hostpath,
# LVM and ZFS; Replicated PV Mayastor is off, see README.md).
# NAME, NAMESPACE, CHARTS and HELM_OPTS come from the image ENV (override with sealos run -e).
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME=${NAME:-openebs}
NAMESPACE=${NAMESPACE:-openebs}
CHARTS=${CHARTS:-./charts/openebs}
# HELM_OPTS is split into words on purpose.
# shellcheck disable=SC2086
helm upgrade -i "${NAME}" "${CHARTS}" -n "${NAMESPACE}" --create-namespace ${HELM_OPTS}
