#!/usr/bin/env bash
# sealos: label `clean` = "clean.sh", run on every host by `sealos reset` / `sealos delete`
# (after kubeadm reset). Undoes init.sh.
cd "$(dirname "$0")" || exit 1
source common.sh
set -uo pipefail

stop_unit kubelet
stop_unit image-cri-shim
umount_under /var/lib/kubelet
rm -rf /etc/systemd/system/kubelet.service /etc/systemd/system/kubelet.service.d \
  /etc/systemd/system/image-cri-shim.service
systemctl daemon-reload || true
for bin in kubeadm kubelet kubectl crictl image-cri-shim kubelet-pre-start.sh; do
  rm -f "$BIN_DIR/$bin"
done
rm -f /etc/image-cri-shim.yaml /etc/crictl.yaml \
  /etc/sysctl.d/99-sealos-kubernetes.conf /etc/modules-load.d/sealos-kubernetes.conf \
  /etc/security/limits.d/99-sealos-kubernetes.conf
safe_rm_dir /var/lib/kubelet
log "clean: done"
