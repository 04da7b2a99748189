#!/usr/bin/env bash
# `make lint`: formatting, clippy and the dependency policy (deny.toml), as CI checks them
# (.ci/run runs this script). cargo-deny comes from local/bootstrap.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source local/bootstrap.sh lint

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
# Not `advisories`: the RustSec database is fetched from GitHub, which CI cannot reach.
echo "==> cargo deny check bans licenses sources"
cargo deny check --hide-inclusion-graph bans licenses sources
