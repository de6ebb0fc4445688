#!/usr/bin/env bash
# One table for synthetic policies of N services (default 10 100 1000
# 10000; set NS to change): compile time, peak RSS and bytes written; the
# physical-limit references (copying the output tree, parsing and
# re-serialising the rendered YAML); validate throughput; and peers in the
# same run: helm template of the generated chart and of a chart holding the
# same objects as plain YAML, and kubectl kustomize of the overlay. These are
# best-of-RUNS figures for a quick look across sizes; the paired ratios that
# BENCHMARKS.md quotes come from bench/all.sh (validate.sh against
# kubeconform, compile.sh). Writes nothing outside a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
NS=${NS:-"10 100 1000 10000"}
RUNS=${RUNS:-3}
cargo build --release -q -p meshpack --bin meshpack --example reserialize
TOOLS=$(bash tests/tools.sh 2>/dev/null)
M=target/release/meshpack
R=target/release/examples/reserialize
HELM=$TOOLS/helm4/helm
KUBECTL=$TOOLS/helm4/kubectl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
measure() { python3 bench/measure.py "$RUNS" "$@"; }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.1f}x' if b > 0 else '-')" "$1" "$2"; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; commit $(git rev-parse --short HEAD)"
echo
echo "| services | rules | compile | peak RSS | bytes | cp -r | reserialize | compile / cp | compile / reserialize | validate obj/s | helm template | helm plain YAML | template / plain | kustomize |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in $NS; do
  d=$work/$n
  mkdir -p "$d"
  $M synthesize --services "$n" > "$d/policy.yaml"
  edges=$(grep -c "^  - from:\|^    - from:\|- from:" "$d/policy.yaml" || true)
  read -r t_compile rss < <(measure $M compile "$d/policy.yaml" -o "$d/chart" --kustomize "$d/kustomize" --force)
  bytes=$(du -sb "$d/chart" "$d/kustomize" | awk '{s += $1} END {print s}')
  read -r t_cp _ < <(measure bash -c "rm -rf '$d/copy' && cp -r '$d/chart' '$d/kustomize' '$d/copy' 2>/dev/null || (mkdir -p '$d/copy' && cp -r '$d/chart' '$d/kustomize' '$d/copy')")
  # The chart checks each Istio kind it renders (capabilities.yaml lists them).
  api="$(sed -n 's/^ *--api-versions/--api-versions/p' "$d/chart/templates/istio/capabilities.yaml") --api-versions cert-manager.io/v1"
  $HELM template bench "$d/chart" --set istio.enabled=true $api > "$d/rendered.yaml"
  objects=$(grep -c "^kind:" "$d/rendered.yaml")
  read -r t_reser _ < <(measure $R "$d/rendered.yaml")
  read -r t_val _ < <(measure $M validate "$d/rendered.yaml")
  read -r t_helm _ < <(measure $HELM template bench "$d/chart" --set istio.enabled=true $api)
  # The same objects as a chart without template logic.
  mkdir -p "$d/plain/templates"
  printf 'apiVersion: v2\nname: bench\nversion: 1.0.0\n' > "$d/plain/Chart.yaml"
  # Several files: Helm loads no chart file over 5 MiB.
  sed 's/{{/{{ "{{" }}/g' "$d/rendered.yaml" | awk -v dir="$d/plain/templates" '/^---$/ {n++} {print > (dir "/part-" int(n / 500) ".yaml")}'
  read -r t_plain _ < <(measure $HELM template bench "$d/plain")
  # kubectl kustomize grows quadratically with the number of objects
  # (per-object namespace replacements are gone); see BENCHMARKS.md.
  t_kust="skipped"
  if [ "$n" -le "${KUSTOMIZE_MAX:-300}" ]; then
    read -r t_kust _ < <(measure $KUBECTL kustomize "$d/kustomize/overlays/istio")
    t_kust="$t_kust s"
  fi
  val=$(python3 -c "print(f'{$objects / $t_val:.0f}')")
  echo "| $n | $edges | ${t_compile} s | ${rss} MiB | $bytes | ${t_cp} s | ${t_reser} s | $(ratio "$t_compile" "$t_cp") | $(ratio "$t_compile" "$t_reser") | $val | ${t_helm} s | ${t_plain} s | $(ratio "$t_helm" "$t_plain") | ${t_kust} |"
done
