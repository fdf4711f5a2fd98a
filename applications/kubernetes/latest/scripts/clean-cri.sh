#!/usr/bin/env bash
# sealos: label `clean-cri` = "clean-cri.sh $criData", run on every host by `sealos reset` /
# `sealos delete` after kubeadm reset. Undoes init-cri.sh, containers and images included.
cd "$(dirname "$0")" || exit 1
source common.sh
set -uo pipefail

data=${1:-${criData:-/var/lib/containerd}}

if [[ -x $BIN_DIR/crictl ]] && systemctl is-active --quiet containerd 2>/dev/null; then
  timeout 60 "$BIN_DIR/crictl" rmp --all --force >/dev/null 2>&1 || true
fi
stop_unit containerd
umount_under /run/containerd
umount_under "$data"
for f in ../cri/bin/*; do
  rm -f "$BIN_DIR/$(basename "$f")"
done
rm -f /etc/systemd/system/containerd.service
systemctl daemon-reload || true
rm -rf /etc/containerd /run/containerd
safe_rm_dir "$data"
log "clean-cri: done"
