#!/usr/bin/env bash
# Installs calicoctl on the master where sealos runs this image.
set -e
cd "$(dirname "${BASH_SOURCE[0]}")"
install -m 0755 opt/calicoctl /usr/bin/calicoctl
echo "calicoctl installed at /usr/bin/calicoctl"
