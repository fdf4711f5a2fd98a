#!/usr/bin/env bash
# Per-arch release binaries, the catalogue's ways: an arch map, a release tarball unpacked
# and moved, a member piped out of a tarball, a bare file, a gzipped file.
set -e

cd "$(dirname "${BASH_SOURCE[0]}")" >/dev/null 2>&1
export readonly ARCH=${1:-amd64}
export readonly NAME=${2:-$(basename "${PWD%/*}")}
export readonly VERSION=${3:-$(basename "$PWD")}

case $ARCH in
amd64)
  MACHINE=x86_64
  ;;
arm64)
  MACHINE=aarch64
  ;;
*)
  echo "unsupported architecture $ARCH"
  exit 1
  ;;
esac

rm -rf opt && mkdir -p opt
wget -q @URL@/tool/${VERSION}/tool-${VERSION#v}-linux-${MACHINE}.tar.gz
tar -zxvf tool-${VERSION#v}-linux-${MACHINE}.tar.gz
mv tool-${VERSION#v}-linux-${MACHINE}/tool opt/
rm -rf tool-${VERSION#v}-linux-${MACHINE}*

wget -qO- "@URL@/ctl/ctl-linux-${ARCH}.tar.gz" | tar -zx -C opt ctl
curl -sL -o opt/helper @URL@/helper/${VERSION}/helper-linux-${ARCH}
wget -qO- @URL@/agent/agent-linux-${ARCH}.gz | gunzip -c > opt/agent
chmod +x opt/*
