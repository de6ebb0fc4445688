#!/usr/bin/env bash
# Every table of BENCHMARKS.md in one command, from a fresh clone:
#
#   bash bench/all.sh /path/to/kubeconform
#
# 1. bench/validate.sh: meshpack validate vs kubeconform -strict, paired,
#    1k/10k/100k objects in one namespace and ten apps per namespace
#    (add N="1000 10000 100000 1000000" for the million-object row).
# 2. bench/compile.sh: compile into a fresh folder and as a recompile, vs
#    cp -r of the same output; helm template of the generated chart vs the
#    same objects as plain YAML; kubectl kustomize of every overlay.
# 3. bench/kustomize-floor.sh: kustomize alone on N bare ConfigMaps.
# For the before/after tables, run bench/compile.py with --before OTHER
# (another meshpack binary); see BENCHMARKS.md.
# kubeconform is a peer built outside the checkout (see bench/validate.sh).
# Fails, never skips, when a peer or ../shared/schemas is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBECONFORM=${1:-${KUBECONFORM:-$(command -v kubeconform || true)}}
if [ -z "$KUBECONFORM" ] || [ ! -x "$KUBECONFORM" ]; then
  echo "kubeconform not found: pass its path (see bench/validate.sh)" >&2
  exit 2
fi
echo "## validate"
bash bench/validate.sh "$KUBECONFORM"
echo
echo "## compile, helm template, kubectl kustomize"
bash bench/compile.sh
echo
echo "## kustomize's own floor"
bash bench/kustomize-floor.sh
