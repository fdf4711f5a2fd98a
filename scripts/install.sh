#!/usr/bin/env bash
# Install everything clusterbuild and its tests need on a fresh Debian/Ubuntu machine:
# system tools (docker-registry, skopeo, buildah, bubblewrap for the init.sh sandbox, tmux for
# the terminal progress test) and a
# virtualenv in .venv with the package.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in docker-registry:docker-registry skopeo:skopeo buildah:buildah openssl:openssl \
            bwrap:bubblewrap tmux:tmux; do
    tool=${pair%%:*}
    command -v "$tool" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
echo "installed: $(.venv/bin/clusterbuild --help >/dev/null && echo .venv/bin/clusterbuild)"
