#!/usr/bin/env bash
# Installs cmctl on the master where sealos runs this image.
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
install -m 0755 opt/cmctl /usr/bin/cmctl
/usr/bin/cmctl version --client || true
