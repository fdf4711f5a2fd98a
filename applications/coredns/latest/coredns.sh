#!/usr/bin/env bash
# Installs (or upgrades) the coredns chart shipped in charts/.
# NAME, NAMESPACE, CHARTS and HELM_OPTS come from the image ENV (override with sealos run -e).
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
NAME=${NAME:-coredns}
NAMESPACE=${NAMESPACE:-kube-system}
CHARTS=${CHARTS:-./charts/coredns}
# The chart names its Deployment after the release (<NAME>, or <NAME>-coredns when NAME does
# not contain "coredns"). kubeadm (and so sealos) clusters already run a Deployment
# kube-system/coredns that Helm does not own: stop with a hint instead of a Helm error.
case "${NAME}" in *coredns*) FULLNAME=${NAME} ;; *) FULLNAME=${NAME}-coredns ;; esac
OWNER=$(kubectl -n "${NAMESPACE}" get deployment "${FULLNAME}" --ignore-not-found \
  -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by}')
if kubectl -n "${NAMESPACE}" get deployment "${FULLNAME}" >/dev/null 2>&1 && [ "${OWNER}" != "Helm" ]; then
  echo "deployment ${NAMESPACE}/${FULLNAME} exists and is not managed by Helm (kubeadm's CoreDNS?)." >&2
  echo "Install beside it with -e NAME=<other name>, or remove it first (see README.md)." >&2
  exit 1
fi
# HELM_OPTS is split into words on purpose.
# shellcheck disable=SC2086
helm upgrade -i "${NAME}" "${CHARTS}" -n "${NAMESPACE}" --create-namespace ${HELM_OPTS}
