#!/usr/bin/env bash
# sealos: label `init` = "init.sh", run on every host after init-cri.sh and before kubeadm
# init/join. Installs image-cri-shim (the kubelet's image service, redirecting pulls to the
# cluster registry), crictl, kubeadm/kubelet/kubectl and the host settings Kubernetes needs.
cd "$(dirname "$0")" || exit 1
source common.sh
set -euo pipefail

registry="${registryDomain:-sealos.hub}:${registryPort:-5000}"

init_shim() {
  install -m 0755 ../cri/image-cri-shim "$BIN_DIR/image-cri-shim"
  install -m 0644 ../etc/image-cri-shim.yaml /etc/image-cri-shim.yaml
  install -m 0644 ../etc/image-cri-shim.service /etc/systemd/system/image-cri-shim.service
  install -m 0644 ../etc/crictl.yaml /etc/crictl.yaml
  start_unit image-cri-shim
  wait_socket "${SEALOS_SYS_IMAGE_ENDPOINT:-/var/run/image-cri-shim.sock}"
}

init_host() {
  grep -qE '^127\.0\.0\.1\s.*\blocalhost\b' /etc/hosts || echo "127.0.0.1 localhost" >>/etc/hosts
  grep -qE '^::1\s.*\blocalhost\b' /etc/hosts || echo "::1 localhost" >>/etc/hosts
  install -m 0644 ../etc/sysctl.d/99-sealos-kubernetes.conf /etc/sysctl.d/99-sealos-kubernetes.conf
  install -m 0644 ../etc/modules-load.d/sealos-kubernetes.conf /etc/modules-load.d/sealos-kubernetes.conf
  mkdir -p /etc/security/limits.d
  install -m 0644 ../etc/limits.d/99-sealos-kubernetes.conf /etc/security/limits.d/99-sealos-kubernetes.conf
  install -m 0755 kubelet-pre-start.sh "$BIN_DIR/kubelet-pre-start.sh"
  bash "$BIN_DIR/kubelet-pre-start.sh"
  # The API server, etcd and the CNI need their ports open between nodes.
  if systemctl is-active --quiet firewalld 2>/dev/null; then
    warn "stopping and disabling firewalld"
    systemctl disable --now firewalld || true
  fi
}

init_kube() {
  local bin
  for bin in kubeadm kubelet kubectl crictl; do
    install -m 0755 "../bin/$bin" "$BIN_DIR/$bin"
  done
  # containerd starts pods with this image itself (not through the shim): pull it now.
  local i
  for i in 1 2 3; do
    "$BIN_DIR/crictl" pull "$registry/${sandboxImage:?}" && break
    [[ $i -eq 3 ]] && die "cannot pull $registry/$sandboxImage"
    sleep 5
  done
  install -m 0644 ../etc/kubelet.service /etc/systemd/system/kubelet.service
  mkdir -p /etc/systemd/system/kubelet.service.d /var/lib/kubelet
  install -m 0644 ../etc/systemd/system/kubelet.service.d/10-kubeadm.conf \
    /etc/systemd/system/kubelet.service.d/10-kubeadm.conf
  systemctl daemon-reload
  systemctl enable kubelet >/dev/null 2>&1 # kubeadm init/join starts it
}

init_shim
init_host
init_kube
log "init: $("$BIN_DIR/kubelet" --version) ready for kubeadm"
