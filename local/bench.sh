#!/usr/bin/env bash
# `make bench`: the project's benchmark (a measurement, not a test). Finds or starts PostgreSQL as
# `make test` does (local/postgres.sh; the throwaway cluster loads pg_stat_statements, which counts
# the statements per request), then:
#   1. every handler in process against the floor (`bench run`; `--quick` for a tenth of the calls)
#   2. size, cold start and sign-in memory of the release binaries (local/bench-binaries.sh)
#   3. load through the local stack with wrk (local/bench-load.sh)
#   4. the report (`bench report`): the table with every budget judged, target/bench/report.json
#      and target/bench/latency.svg.
# BENCH_SKIP="binaries load" leaves out steps 2 and/or 3 (the report then says "not measured").
set -euo pipefail
cd "$(dirname "$0")/.."
source local/postgres.sh

trap stop_throwaway_postgres EXIT INT TERM
use_or_start_test_postgres

skip=" ${BENCH_SKIP:-} "
mkdir -p target/bench
echo "==> building the benchmark (release)"
cargo build --quiet --release -p bench
echo "==> handler cost in process"
cargo run --quiet --release -p bench -- run "$@"

# Each script writes its JSON under target/bench/, which the report picks up; a stale file from an
# earlier run is removed first, so the report never mixes runs.
for step in binaries load; do
    rm -f "target/bench/$step.json"
    if [[ "$skip" == *" $step "* ]]; then
        echo "==> $step: skipped (BENCH_SKIP)"
        continue
    fi
    echo "==> local/bench-$step.sh"
    bash "local/bench-$step.sh"
done

echo
cargo run --quiet --release -p bench -- report
