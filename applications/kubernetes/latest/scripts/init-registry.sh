#!/usr/bin/env bash
# sealos: label `init-registry` = "init-registry.sh $registryData $registryConfig", run on the
# registry host(s) (master0 by default) after sealos has linked $registryData to the rootfs
# registry/ directory and written ../etc/registry_htpasswd. Starts the registry that every
# node pulls the cluster images from (sealos then waits for $registryDomain:$registryPort).
cd "$(dirname "$0")" || exit 1
source common.sh
set -euo pipefail

data=${1:-${registryData:-/var/lib/registry}}
config=${2:-${registryConfig:-/etc/registry}}

mkdir -p "$data" "$config"
install -m 0755 ../cri/registry "$BIN_DIR/registry"
install -m 0644 ../etc/registry_config.yml "$config/registry_config.yml"
if [[ -f ../etc/registry_htpasswd ]]; then
  install -m 0600 ../etc/registry_htpasswd "$config/registry_htpasswd"
fi
install -m 0644 ../etc/registry.service /etc/systemd/system/registry.service
selinux_permissive
start_unit registry
log "init-registry: serving $data on port ${registryPort:-5000}"
