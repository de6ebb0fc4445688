#!/usr/bin/env bash
# The compile / Helm / Kustomize table of BENCHMARKS.md, from a fresh clone:
# builds meshpack (release), fetches the tools (tests/tools.sh) and runs
# bench/compile.py (paired alternating runs, wall and CPU; see its header).
# Arguments go to compile.py, e.g. `--services 1000 --runs 3 --cap 30`.
# Writes only under a temporary cperf-* folder, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p meshpack --bin meshpack
tools=$(bash tests/tools.sh)
exec python3 bench/compile.py --meshpack target/release/meshpack --tools "$tools" "$@"
