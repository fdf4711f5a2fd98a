#!/usr/bin/env bash
# CMD of the rootfs: sealos runs it on every host once kubeadm init/join is done, as
# `cd /var/lib/sealos/data/<cluster>/rootfs && bash kubernetes.sh` (the image ENV exported).
# The cluster itself is set up by the label scripts in scripts/; this only gives root on each
# control-plane node a kubeconfig and reports the node. Idempotent; never fails the run.
home=${HOME:-/root}
if [[ -s /etc/kubernetes/admin.conf ]]; then
  mkdir -p "$home/.kube"
  if [[ ! -s $home/.kube/config ]]; then
    install -m 0600 /etc/kubernetes/admin.conf "$home/.kube/config"
    echo "kubernetes: wrote $home/.kube/config"
  fi
  kubectl --kubeconfig /etc/kubernetes/admin.conf get node "$(hostname | tr '[:upper:]' '[:lower:]')" 2>/dev/null || true
fi
echo "kubernetes: $(kubelet --version 2>/dev/null || echo 'kubelet not installed') on $(hostname)"
exit 0
