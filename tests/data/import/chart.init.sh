#!/usr/bin/env bash
# A chart from a Helm repository, its version mapped from the app version, values edited.
set -e

cd "$(dirname "${BASH_SOURCE[0]}")" >/dev/null 2>&1
export readonly ARCH=${1:-amd64}
export readonly NAME=${2:-$(basename "${PWD%/*}")}
export readonly VERSION=${3:-$(basename "$PWD")}

repo_url="@URL@/charts"
repo_name="demo/web"
chart_name="demo"

helm repo add ${chart_name} ${repo_url} --force-update

function version_check() {
  all_versions=$(helm search repo --versions --regexp "\v"${repo_name}"\v" | awk '{print $3}' | grep -v VERSION)
  if ! echo "$all_versions" | grep -qw "${VERSION}"; then
    echo "Error: the version ${VERSION} is not in the chart repository $repo_name"
    exit 1
  fi
}

function init() {
  rm -rf charts && mkdir -p charts
  chart_version=$(helm search repo --versions --regexp "\v"${repo_name}"\v" | grep ${VERSION#v} | awk '{print $2}' | sort -rn | head -n1)
  helm pull ${repo_name} --version=${chart_version} -d charts/ --untar
  yq e -i '.image.digest = null' charts/web/values.yaml
  yq -i 'del(.debug)' charts/web/values.yaml
  mkdir -p images/shim
  echo "@REGISTRY@/seed/extra:1" > images/shim/webImages
}

version_check
init
