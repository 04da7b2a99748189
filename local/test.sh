#!/usr/bin/env bash
# `make test`: every test, against a real PostgreSQL, then the journey over HTTP through
# `cargo lambda watch`. Finds or starts PostgreSQL by itself (see local/postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source local/postgres.sh

if ! cargo lambda --version >/dev/null 2>&1; then
    echo "error: cargo-lambda is not installed; install it with: pip install cargo-lambda" >&2
    exit 1
fi

WATCH_PID=""
cleanup() {
    if [ -n "$WATCH_PID" ]; then
        # cargo lambda watch runs each function as a child; stop the whole process group.
        kill -TERM -- "-$WATCH_PID" 2>/dev/null || true
        wait "$WATCH_PID" 2>/dev/null || true
    fi
    if [ -n "${E2E_DB_NAME:-}" ]; then
        psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $E2E_DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    stop_throwaway_postgres
}
trap cleanup EXIT INT TERM

use_or_start_test_postgres

echo "==> building every function"
cargo build --workspace --all-targets

# The end-to-end stack: its own database, migrated by the `migrate` binary, and the functions
# served at their production paths on a free loopback port.
e2e_db="e2e_$(date +%s)_$$"
psql "$TEST_DATABASE_URL" -qc "CREATE DATABASE $e2e_db" >/dev/null
E2E_DB_NAME=$e2e_db
base=${TEST_DATABASE_URL%%\?*}
query=${TEST_DATABASE_URL#"$base"}
case "${base#*://}" in */*) base=${base%/*} ;; esac
E2E_DATABASE_URL="$base/$e2e_db$query"
DATABASE_URL=$E2E_DATABASE_URL cargo run --quiet --bin migrate

api_port=""
for _ in $(seq 1 20); do
    candidate=$((20000 + RANDOM % 30000))
    if port_is_free "$candidate"; then api_port=$candidate; break; fi
done
[ -n "$api_port" ] || { echo "error: no free port for the API" >&2; exit 1; }
E2E_BASE_URL="http://127.0.0.1:$api_port"
watch_log=$(mktemp "${TMPDIR:-/tmp}/jwt-auth-watch.XXXXXX.log")
echo "==> serving the functions with cargo lambda watch on $E2E_BASE_URL (log: $watch_log)"
DATABASE_URL=$E2E_DATABASE_URL \
JWT_SECRET_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '\n') \
RESET_URL="$E2E_BASE_URL/reset-password" \
RUST_LOG=${RUST_LOG:-info} \
    setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$api_port" --ignore-changes >"$watch_log" 2>&1 &
WATCH_PID=$!
for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$E2E_BASE_URL/api/public" 2>/dev/null && break
    kill -0 "$WATCH_PID" 2>/dev/null || { cat "$watch_log" >&2; echo "error: cargo lambda watch exited" >&2; exit 1; }
    sleep 1
done
curl -fsS -o /dev/null "$E2E_BASE_URL/api/public" || { tail -50 "$watch_log" >&2; exit 1; }
export E2E_BASE_URL E2E_DATABASE_URL

echo "==> running every test"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi
