#!/usr/bin/env bash
# `make bench`: the project's benchmark (a measurement, not a test). Finds or starts PostgreSQL as
# `make test` does (local/postgres.sh; the throwaway cluster loads pg_stat_statements, which counts
# the statements per request), measures every handler in process against the floor
# (`bench run`), then the release binaries and the local stack when those scripts are present,
# and prints the report (`bench report`): the table, target/bench/report.json and
# target/bench/latency.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
source local/postgres.sh

trap stop_throwaway_postgres EXIT INT TERM
use_or_start_test_postgres

echo "==> building the benchmark (release)"
cargo build --quiet --release -p bench
echo "==> handler cost in process"
cargo run --quiet --release -p bench -- run "$@"

# Cold start, size and memory of the release binaries, then load through the local stack: each
# script writes its JSON under target/bench/, which the report picks up.
for script in local/bench-binaries.sh local/bench-load.sh; do
    if [ -f "$script" ]; then
        echo "==> $script"
        bash "$script"
    fi
done

echo
cargo run --quiet --release -p bench -- report
