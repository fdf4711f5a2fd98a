#!/usr/bin/env bash
# Installs (or upgrades) Istio's control plane as upstream documents it for Helm: the base
# chart (cluster-wide CRDs and resources) first, then istiod, both in NAMESPACE.
# BASE_NAME/BASE_HELM_OPTS are for the base release, NAME/HELM_OPTS for istiod
# (override with sealos run -e).
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
NAMESPACE=${NAMESPACE:-istio-system}
BASE_NAME=${BASE_NAME:-istio-base}
NAME=${NAME:-istiod}
# The *_OPTS variables are split into words on purpose.
# shellcheck disable=SC2086
helm upgrade -i "${BASE_NAME}" ./charts/base -n "${NAMESPACE}" --create-namespace ${BASE_HELM_OPTS}
# shellcheck disable=SC2086
helm upgrade -i "${NAME}" ./charts/istiod -n "${NAMESPACE}" --wait ${HELM_OPTS}
