#!/usr/bin/env bash
# Installed by init.sh as $BIN_DIR/kubelet-pre-start.sh and run before every kubelet start
# (ExecStartPre of kubelet.service) and once by init.sh: kernel modules, sysctls, no swap.
for m in overlay br_netfilter ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh; do
  modprobe "$m" 2>/dev/null || echo "kubelet-pre-start: cannot load module $m" >&2
done
# Kernel 4.19 renamed nf_conntrack_ipv4 to nf_conntrack.
modprobe nf_conntrack 2>/dev/null || modprobe nf_conntrack_ipv4 2>/dev/null || true
sysctl --system >/dev/null 2>&1 || true
swapoff --all 2>/dev/null || true
if command -v getenforce >/dev/null 2>&1 && [[ $(getenforce 2>/dev/null) == Enforcing ]]; then
  setenforce 0 || true
fi
exit 0
