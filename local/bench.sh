#!/usr/bin/env bash
# `make bench`: `bench run "$@"`, local/bench-binaries.sh and local/bench-load.sh (each against
# the stack testkit serves), then the report. BENCH_SKIP="binaries load" leaves steps out.
set -euo pipefail
cd "$(dirname "$0")/.."
source local/bootstrap.sh bench
exec cargo run --quiet -p testkit -- bench "$@"
