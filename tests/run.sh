#!/usr/bin/env bash
# Install what the tests need, then run every test: formatting, lints, unit
# and integration tests (real Helm 3 and 4, kubectl kustomize), and the
# freshness of the committed charts/ and kustomize/. The README's test
# command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

MESHPACK_TOOLS="$(bash tests/tools.sh)"
export MESHPACK_TOOLS

cargo fmt --all -- --check
cargo clippy --locked --all-targets --features meshpack/tools -- -D warnings
cargo test --locked --workspace --features meshpack/tools
cargo run --locked -q -p meshpack -- compile --check
