#!/usr/bin/env bash
# Where compile time goes: a perf profile of the in-process compile
# benchmark at N services (default 1000), printed as the hottest symbols
# (self time) and the hottest meshpack functions (with callees). Needs
# `perf` (Debian: linux-perf); FOLDED=file also writes folded stacks for a
# flamegraph tool.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
command -v perf > /dev/null || { echo "perf is not installed (Debian: apt-get install linux-perf)" >&2; exit 2; }
bin=$(cargo bench --bench compile --no-run --message-format=json 2> /dev/null \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "compile" and m.get("executable"):
        print(m["executable"])')
data=$(mktemp)
trap 'rm -f "$data"' EXIT
MESHPACK_BENCH_N=$N perf record -q -g -o "$data" "$bin" > /dev/null 2>&1
echo "## $N services: self time"
perf report -i "$data" --no-children --sort symbol 2> /dev/null | grep -E '^ +[0-9]' | head -25
echo
echo "## meshpack functions, with what they call"
perf report -i "$data" --children --sort symbol 2> /dev/null | grep -E '^ +[0-9]' | grep 'meshpack::' | head -25
if [ -n "${FOLDED:-}" ]; then
  perf script -i "$data" > "$FOLDED"
  echo "perf script output in $FOLDED (feed it to a flamegraph tool)"
fi
