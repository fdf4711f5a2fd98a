#!/bin/bash
set -e
ARCH=${1:-amd64}
VERSION=${3:-latest}
cli_version=$(curl -s https://api.github.com/repos/example/cli/releases/latest | jq -r .tag_name)

helm repo add example https://charts.example.com
helm pull example/web --untar -d charts/
helm pull example/api --version 1.2.0 --untar -d charts/
sed -i 's/replicas: 1/replicas: 3/' charts/api/templates/deployment.yaml
git clone --depth 1 https://github.com/example/addons.git
for addon in $(ls addons); do
  wget -q https://example.com/addons/${addon}.yaml -P manifests/
done
wget -q https://github.com/example/cli/releases/download/${cli_version}/cli-linux-${ARCH} -O opt/cli
wget -qO- https://example.com/tools-${ARCH}.tar.gz | tar -zx -C opt/
yq -i '.replicas += 1' charts/api/values.yaml
cat <<EOF > Kubefile
FROM scratch
COPY charts charts
CMD ["helm upgrade -i api charts/api"]
EOF
