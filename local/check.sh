#!/usr/bin/env bash
# `make check`: the Rust tests against PostgreSQL only, the edit-run loop (testkit/, `check`).
set -euo pipefail
cd "$(dirname "$0")/.."
source local/bootstrap.sh check
exec cargo run --quiet -p testkit -- check
