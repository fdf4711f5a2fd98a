#!/usr/bin/env bash
# sealos: label `init-cri` = "init-cri.sh $registryDomain $registryPort", run on every host
# after the registry is up and before init.sh. Installs containerd and runc (../cri/bin) and
# points containerd at the cluster registry.
cd "$(dirname "$0")" || exit 1
source common.sh
set -euo pipefail

domain=${1:-${registryDomain:-sealos.hub}}
port=${2:-${registryPort:-5000}}

for f in ../cri/bin/*; do
  install -m 0755 "$f" "$BIN_DIR/$(basename "$f")"
done

mkdir -p /etc/containerd "/etc/containerd/certs.d/$domain:$port"
install -m 0644 ../etc/config.toml /etc/containerd/config.toml
if ! have apparmor_parser; then
  # containerd fails to start containers with AppArmor on when the host has no parser.
  sed -i 's/^\(\s*disable_apparmor\s*=\s*\).*/\1true/' /etc/containerd/config.toml
fi
install -m 0644 ../etc/hosts.toml "/etc/containerd/certs.d/$domain:$port/hosts.toml"
install -m 0644 ../etc/containerd.service /etc/systemd/system/containerd.service

modprobe overlay 2>/dev/null || warn "cannot load the overlay module"
start_unit containerd
wait_socket "${SEALOS_SYS_CRI_ENDPOINT:-/run/containerd/containerd.sock}"
log "init-cri: $("$BIN_DIR/containerd" --version)"
