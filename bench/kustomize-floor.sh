#!/usr/bin/env bash
# The floor of `kubectl kustomize` itself: ONE flat kustomization listing
# one file of N trivial ConfigMaps, no transformers, no sort pass. kustomize
# 5.7 checks every object it adds against every object it holds
# (api/resmap/reswrangler.go, resWrangler.Append), so this grows with N^2
# whatever meshpack writes; docs/kustomize.md explains how the tree stays
# under it (parts). Writes only under a temporary folder, removed at the end.
#
#   bash bench/kustomize-floor.sh [N...]    (default 500 1000 1500 2000 3000 4000)
#
# Env: KUBECTL (default .cache/tools/helm4/kubectl as `bash tests/tools.sh` installs it,
# else $MESHPACK_TOOLS/helm4/kubectl),
# RUNS (default 3). Prints a markdown table: N, wall and CPU min/median/max,
# peak RSS, and the 1-minute load average when the row ends.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
KUBECTL=${KUBECTL:-}
if [ -z "$KUBECTL" ]; then
  for k in "$root/.cache/tools/helm4/kubectl" "${MESHPACK_TOOLS:-/nonexistent}/helm4/kubectl"; do
    if [ -x "$k" ]; then KUBECTL=$k; break; fi
  done
fi
if [ -z "$KUBECTL" ] || [ ! -x "$KUBECTL" ]; then
  echo "error: no kubectl; run \`bash tests/tools.sh\` or set KUBECTL" >&2
  exit 1
fi
RUNS=${RUNS:-3}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(500 1000 1500 2000 3000 4000)
tmp=$(mktemp -d -t kfloor-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "kubectl: $("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg); $RUNS runs per row; times min/median/max"
echo
echo "| objects | wall | CPU | peak RSS | load |"
echo "| ---: | ---: | ---: | ---: | ---: |"
for n in "${sizes[@]}"; do
  d="$tmp/n$n"
  mkdir -p "$d"
  python3 - "$d" "$n" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
with open(f"{d}/objects.yaml", "w") as f:
    for i in range(n):
        f.write(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: bench\ndata:\n  k: v\n")
with open(f"{d}/kustomization.yaml", "w") as f:
    f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "resources: [objects.yaml]\nsortOptions: {order: fifo}\n")
PY
  python3 - "$KUBECTL" "$d" "$RUNS" "$n" <<'PY'
import os, statistics, subprocess, sys, time
kubectl, d, runs, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
walls, cpus, rss = [], [], 0
for _ in range(runs):
    start = time.perf_counter()
    p = subprocess.Popen([kubectl, "kustomize", d], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"kubectl kustomize {d} failed")
    walls.append(time.perf_counter() - start)
    cpus.append(usage.ru_utime + usage.ru_stime)
    rss = max(rss, usage.ru_maxrss / 1024)
def s(xs):
    xs = sorted(xs)
    return "/".join(f"{x:.2f}" for x in (xs[0], statistics.median(xs), xs[-1]))
print(f"| {n} | {s(walls)} s | {s(cpus)} s | {rss:.0f} MiB | {os.getloadavg()[0]:.1f} |", flush=True)
PY
  rm -rf "$d"
done
