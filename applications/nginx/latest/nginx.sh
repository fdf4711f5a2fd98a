#!/usr/bin/env bash
# sealos has rendered manifests/nginx.yaml.tmpl into manifests/nginx.yaml with the image
# env merged with `sealos run -e` (REPLICAS, NODE_PORT, NAMESPACE, NGINX_VERSION).
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
kubectl create namespace "${NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n "${NAMESPACE}" -f manifests/nginx.yaml
