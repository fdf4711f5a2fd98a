#!/usr/bin/env bash
# Installs k9s on the master where sealos runs this image.
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
install -m 0755 opt/k9s /usr/bin/k9s
/usr/bin/k9s version --short || true
