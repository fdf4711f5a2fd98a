#!/usr/bin/env bash
# Installs helm on the master where sealos runs this image.
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
install -m 0755 opt/helm /usr/bin/helm
/usr/bin/helm version --short || true
