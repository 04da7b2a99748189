#!/usr/bin/env bash
# `make bench`: `bench run "$@"`, `bench binaries` and `bench load` (each against the stack
# testkit serves), then the report. BENCH_SKIP="binaries load" leaves steps out.
set -euo pipefail
cd "$(dirname "$0")/.."
source local/bootstrap.sh bench
exec cargo run --quiet -p testkit -- bench "$@"
