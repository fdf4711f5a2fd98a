#!/usr/bin/env bash
# Raw manifests downloaded into manifests/, and image lists written into images/shim/.
set -e

cd "$(dirname "${BASH_SOURCE[0]}")" >/dev/null 2>&1
export readonly ARCH=${1:-amd64}
export readonly NAME=${2:-$(basename "${PWD%/*}")}
export readonly VERSION=${3:-$(basename "$PWD")}

readonly BASE_URL="@URL@/${NAME}"

init_dir() {
  rm -rf manifests images
  mkdir -p manifests images/shim
}

download_manifests() {
  wget -qO manifests/install.yaml "${BASE_URL}/releases/download/${VERSION}/install.yaml"
  curl -sL ${BASE_URL}/raw/${VERSION#v}/deploy/crds.yaml -o manifests/crds.yaml
  curl -sSL "${BASE_URL}/raw/main/extra/config.yaml" > manifests/config.yaml
  wget -qP manifests/ ${BASE_URL}/releases/download/${VERSION}/rbac.yaml
}

list_images() {
  echo "@REGISTRY@/seed/extra:1" > images/shim/${NAME}Images
  cat <<EOF >>images/shim/${NAME}Images
# the sidecar
@REGISTRY@/seed/sidecar:${VERSION#v}
EOF
}

init_dir
download_manifests
list_images
echo "init success"
