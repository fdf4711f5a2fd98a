#!/usr/bin/env bash
# Installs MetalLB (native mode) from the release manifest metallb-native.yaml, which creates
# the metallb-system namespace. Optional, from the environment (sealos run -e KEY=VAL):
#   STRICT_ARP=true   set kube-proxy's ipvs.strictARP first, as MetalLB requires with IPVS
#                     (the kube-proxy mode of Sealos clusters); restarts kube-proxy.
#   ADDRESS_POOL=...  comma-separated ranges or CIDRs; creates IPAddressPool "default" and an
#                     L2Advertisement for it once the controller (and its webhook) is up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ "${STRICT_ARP:-false}" == "true" ]]; then
  kubectl get configmap kube-proxy -n kube-system -o yaml |
    sed -e 's/strictARP: false/strictARP: true/' |
    kubectl apply -f - -n kube-system
  kubectl rollout restart daemonset kube-proxy -n kube-system
fi

kubectl apply -f manifests/metallb-native.yaml

if [[ -n "${ADDRESS_POOL:-}" ]]; then
  kubectl rollout status deployment/controller -n metallb-system --timeout=300s
  addresses=""
  IFS=',' read -ra ranges <<< "${ADDRESS_POOL}"
  for range in "${ranges[@]}"; do
    addresses+="    - ${range// /}"$'\n'
  done
  pool="apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: default
  namespace: metallb-system
spec:
  addresses:
${addresses}---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: default
  namespace: metallb-system
spec:
  ipAddressPools:
    - default"
  # The validating webhook answers a little after the controller is Available.
  for attempt in $(seq 1 30); do
    if kubectl apply -f - <<< "${pool}"; then
      exit 0
    fi
    echo "waiting for the MetalLB webhook (attempt ${attempt}/30)"
    sleep 5
  done
  echo "could not create the MetalLB address pool" >&2
  exit 1
fi
