#!/usr/bin/env bash
# Install the Spin containerd shim.
#   bash install-shim.sh        on the master `sealos run` uses: every node, then the RuntimeClass
#   bash install-shim.sh node   on one node only: the shim binary and containerd's config
# Environment (the image ENV, `sealos run -e` overrides): SHIM_HANDLER, RUNTIME_CLASS,
# SHIM_DIR, CONTAINERD_CONFIG; RESTART_CONTAINERD=false leaves containerd running as it is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

SHIM_HANDLER=${SHIM_HANDLER:-spin}
RUNTIME_CLASS=${RUNTIME_CLASS:-wasmtime-spin-v2}
SHIM_DIR=${SHIM_DIR:-/usr/local/bin}
CONTAINERD_CONFIG=${CONTAINERD_CONFIG:-/etc/containerd/config.toml}
RESTART_CONTAINERD=${RESTART_CONTAINERD:-true}
RUNTIME_TYPE=io.containerd.spin.v2

# containerd 2 (config version 3) moved the CRI runtimes to another plugin.
runtimes_table() {
  if grep -Eq '^[[:space:]]*version[[:space:]]*=[[:space:]]*3' "$CONTAINERD_CONFIG"; then
    echo 'plugins."io.containerd.cri.v1.runtime".containerd.runtimes'
  else
    echo 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes'
  fi
}

install_node() {
  install -D -m 0755 opt/containerd-shim-spin-v2 "$SHIM_DIR/containerd-shim-spin-v2"
  if [[ ! -f "$CONTAINERD_CONFIG" ]]; then
    echo "containerd-shim-spin: $CONTAINERD_CONFIG not found; is containerd installed?" >&2
    exit 1
  fi
  local table
  table="$(runtimes_table).${SHIM_HANDLER}"
  if grep -Fq "[$table]" "$CONTAINERD_CONFIG"; then
    echo "containerd-shim-spin: runtime ${SHIM_HANDLER} already in $CONTAINERD_CONFIG"
    return
  fi
  cp -p "$CONTAINERD_CONFIG" "$CONTAINERD_CONFIG.bak"
  printf '\n[%s]\n  runtime_type = "%s"\n' "$table" "$RUNTIME_TYPE" >>"$CONTAINERD_CONFIG"
  echo "containerd-shim-spin: runtime ${SHIM_HANDLER} added to $CONTAINERD_CONFIG"
  if [[ "$RESTART_CONTAINERD" == true ]]; then
    systemctl restart containerd
  fi
}

if [[ "${1:-cluster}" == node ]]; then
  install_node
  exit 0
fi

if command -v sealos >/dev/null 2>&1; then
  # every node of the cluster, this one included (sealos scp/exec reach them all)
  remote=/tmp/containerd-shim-spin
  sealos exec "rm -rf $remote && mkdir -p $remote"
  sealos scp "$PWD/." "$remote"
  sealos exec "SHIM_HANDLER=$SHIM_HANDLER SHIM_DIR=$SHIM_DIR CONTAINERD_CONFIG=$CONTAINERD_CONFIG RESTART_CONTAINERD=$RESTART_CONTAINERD bash $remote/install-shim.sh node"
else
  install_node
fi

sed -e "s/^  name: wasmtime-spin-v2$/  name: ${RUNTIME_CLASS}/" -e "s/^handler: spin$/handler: ${SHIM_HANDLER}/" \
  manifests/runtimeclass.yaml | kubectl apply -f -
