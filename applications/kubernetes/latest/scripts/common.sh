#!/usr/bin/env bash
# Helpers shared by the scripts of this rootfs. sealos runs each script as
# `export <image ENV and -e values>; cd /var/lib/sealos/data/<cluster>/rootfs/scripts && bash <script> ...`
# so files of the image are reached as ../bin, ../cri, ../etc (the *.tmpl there already rendered).

BIN_DIR=${BIN_DIR:-/usr/bin}
MARKER="managed-by: sealos kubernetes rootfs"

log() { printf '\033[36m INFO [%s] >> %s \033[0m\n' "$(date '+%F %T')" "$*"; }
warn() { printf '\033[33m WARN [%s] >> %s \033[0m\n' "$(date '+%F %T')" "$*" >&2; }
die() {
  printf '\033[31m ERROR [%s] >> %s \033[0m\n' "$(date '+%F %T')" "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# start_unit NAME: enable and (re)start a systemd unit, fail unless it is active within 30s.
start_unit() {
  systemctl daemon-reload
  systemctl enable "$1" >/dev/null 2>&1 || die "cannot enable $1"
  systemctl restart "$1" || die "cannot start $1 (journalctl -u $1)"
  local i
  for i in $(seq 30); do
    systemctl is-active --quiet "$1" && { log "$1 is running"; return 0; }
    sleep 1
  done
  die "$1 is not running (journalctl -u $1)"
}

# stop_unit NAME: stop and disable a unit if it exists, never fails.
stop_unit() {
  systemctl stop "$1" >/dev/null 2>&1 || true
  systemctl disable "$1" >/dev/null 2>&1 || true
}

# wait_socket PATH [SECONDS]: wait until a unix socket exists.
wait_socket() {
  local i
  for i in $(seq "${2:-30}"); do
    [[ -S $1 ]] && return 0
    sleep 1
  done
  die "socket $1 did not appear"
}

# safe_rm_dir DIR: rm -rf a data directory, refusing / and other obvious mistakes.
safe_rm_dir() {
  case "${1%/}" in
  "" | / | /etc | /usr | /var | /var/lib | /run | /root | /home) warn "refusing to remove '$1'" ;;
  *) rm -rf -- "$1" ;;
  esac
}

# umount_under DIR: unmount whatever is still mounted below DIR (deepest first).
umount_under() {
  local dir=${1%/} m
  [[ -n $dir ]] || return 0
  awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}

# selinux_permissive: Kubernetes hostPath volumes and the registry need SELinux off or permissive.
selinux_permissive() {
  if [[ -s /etc/selinux/config ]] && grep -q '^SELINUX=enforcing' /etc/selinux/config; then
    sed -i 's/^SELINUX=enforcing/SELINUX=permissive/' /etc/selinux/config
    warn "SELinux set to permissive in /etc/selinux/config"
  fi
  if have getenforce && [[ $(getenforce 2>/dev/null) == Enforcing ]]; then
    setenforce 0 || true
  fi
}
