#!/usr/bin/env bash
# sealos: label `check` = "check.sh $registryData", run first on every host (preflight of
# `sealos run` / `sealos add`). Fails when the host cannot become a node of this cluster.
cd "$(dirname "$0")" || exit 1
source common.sh
set -uo pipefail

registry_data=${1:-${registryData:-/var/lib/registry}}

[[ $(id -u) -eq 0 ]] || die "run sealos as root"
have systemctl || die "systemd is required"
for cmd in iptables ip mount nsenter modprobe sysctl tar; do
  have "$cmd" || die "$cmd not found: install it with the OS package manager"
done
# Not needed by kube-proxy since Kubernetes 1.32, still useful for debugging.
have conntrack || warn "conntrack not found (optional)"
have socat || warn "socat not found: kubectl port-forward will not work"

# Another container engine on the host would fight over the same sockets and cgroups.
if have docker || [[ -S /var/run/docker.sock ]]; then
  die "docker is installed: uninstall docker (and its containerd) first"
fi
if systemctl is-active --quiet containerd 2>/dev/null &&
  ! grep -qs "$MARKER" /etc/systemd/system/containerd.service; then
  die "a containerd not installed by sealos is running: remove it first"
fi

# Ports of the control plane and the kubelet.
if have ss; then
  for port in 6443 2379 2380 10250 10257 10259; do
    if [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]; then
      die "port $port is in use: stop the service that listens on it"
    fi
  done
else
  warn "ss not found: ports not checked"
fi

[[ -e $registry_data && ! -d $registry_data ]] && die "$registry_data exists and is not a directory"
if [[ -n $(swapon --noheadings 2>/dev/null) ]]; then
  warn "swap is on: kubelet-pre-start.sh turns it off (swapoff -a) before every kubelet start"
fi
log "check: host is ready"
