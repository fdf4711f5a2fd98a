#!/usr/bin/env bash
# sealos: label `clean-registry` = "clean-registry.sh $registryData $registryConfig", run on the
# registry host(s) by `sealos reset`. Undoes init-registry.sh.
cd "$(dirname "$0")" || exit 1
source common.sh
set -uo pipefail

data=${1:-${registryData:-/var/lib/registry}}
config=${2:-${registryConfig:-/etc/registry}}

stop_unit registry
rm -f /etc/systemd/system/registry.service "$BIN_DIR/registry"
systemctl daemon-reload || true
# $data is the link sealos made to the rootfs registry/: rm removes the link, not the images.
if [[ -L $data ]]; then rm -f -- "$data"; else safe_rm_dir "$data"; fi
safe_rm_dir "$config"
log "clean-registry: done"
