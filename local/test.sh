#!/usr/bin/env bash
# `make test`: every test, against a real PostgreSQL, then the journey over HTTP through
# `cargo lambda watch`. Finds or starts PostgreSQL by itself (see local/postgres.sh). With the
# stack still up, it then runs the Postman collection (postman/, with newman), schemathesis against
# openapi.yaml (local/schemathesis.sh), the browser test of the password-reset page (local/browser/,
# headless Debian Chromium; newman and it come from local/package.json) and local/verify-jwks.py,
# which checks the access tokens with PyJWT and the JWKS served over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
source local/postgres.sh

if ! cargo lambda --version >/dev/null 2>&1; then
    echo "error: cargo-lambda is not installed; install it with: pip install cargo-lambda" >&2
    exit 1
fi
# The Postman collection (newman) and the browser test run on Node.js, the latter in Debian's
# Chromium; check for both before spending minutes on the Rust build.
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "error: node and npm are not installed; the Postman collection and the browser test need Node.js 20 or later with npm" >&2
    exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    echo "error: Node.js $(node --version) is too old; the Postman collection and the browser test need Node.js 20 or later" >&2
    exit 1
fi
CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM_PATH" ]; then
    echo "error: Chromium not found at $CHROMIUM_PATH; the browser test needs it. Install it with: apt-get install chromium" >&2
    exit 1
fi
export CHROMIUM_PATH
# The end-to-end stack signs its tokens with a fresh Ed25519 key from openssl, and PyJWT checks
# them independently (local/verify-jwks.py).
if ! command -v openssl >/dev/null 2>&1; then
    echo "error: openssl not found; the end-to-end stack's signing key is made with it. Install it with: apt-get install openssl" >&2
    exit 1
fi
if ! python3 -c 'import jwt, cryptography' >/dev/null 2>&1; then
    echo "error: PyJWT is not installed; the independent check of the tokens needs it. Install it with: pip install 'PyJWT[crypto]'" >&2
    exit 1
fi
if ! command -v schemathesis >/dev/null 2>&1; then
    echo "error: schemathesis is not installed; install it with: pip install 'schemathesis==4.32.5'" >&2
    exit 1
fi
# moto stands in for AWS (Secrets Manager, SES) on loopback; the AWS tests need it.
if [ -z "${MOTO_ENDPOINT_URL:-}" ] && ! command -v moto_server >/dev/null 2>&1; then
    echo "error: moto_server not found; the AWS tests need it. Install it with: pip install 'moto[server]'" >&2
    exit 1
fi

WATCH_PID=""
MOTO_PID=""
SUITE_LOGS=""
cleanup() {
    [ -n "$SUITE_LOGS" ] && rm -rf "$SUITE_LOGS"
    [ -n "$MOTO_PID" ] && { kill -TERM "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; }
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

if [ -z "${MOTO_ENDPOINT_URL:-}" ]; then
    for _ in $(seq 1 20); do
        moto_port=$((20000 + RANDOM % 30000))
        port_is_free "$moto_port" && break
    done
    moto_server -H 127.0.0.1 -p "$moto_port" >"${TMPDIR:-/tmp}/jwt-auth-moto.$$.log" 2>&1 &
    MOTO_PID=$!
    MOTO_ENDPOINT_URL="http://127.0.0.1:$moto_port"
    for _ in $(seq 1 60); do
        curl -fsS -o /dev/null "$MOTO_ENDPOINT_URL/moto-api/data.json" 2>/dev/null && break
        kill -0 "$MOTO_PID" 2>/dev/null || { cat "${TMPDIR:-/tmp}/jwt-auth-moto.$$.log" >&2; exit 1; }
        sleep 0.5
    done
    echo "==> started moto (AWS API emulator) on $MOTO_ENDPOINT_URL"
fi
export MOTO_ENDPOINT_URL

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
# Budgets raised: every suite below sends its requests from 127.0.0.1, and the limits themselves
# are tested in shared/tests/api/throttling.rs.
DATABASE_URL=$E2E_DATABASE_URL \
JWT_PRIVATE_KEY=$(openssl genpkey -algorithm ed25519) \
RESET_URL="$E2E_BASE_URL/reset-password" \
RATE_LIMIT_SIGNUP=100000 RATE_LIMIT_SIGNIN=100000 RATE_LIMIT_FORGOT_PASSWORD=100000 \
RESET_EMAILS_PER_WINDOW=100000 \
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

# Each suite runs even when an earlier one failed; make test fails if any did. Outputs are kept
# to count their results for the closing summary.
artifacts=target/artifacts
mkdir -p "$artifacts"
rm -f "$artifacts"/reset-password*.png "$artifacts"/newman-junit.xml
SUITE_LOGS=$(mktemp -d "${TMPDIR:-/tmp}/jwt-auth-suites.XXXXXX")
suite_logs=$SUITE_LOGS
strip_ansi() { sed -e 's/\x1b\[[0-9;]*m//g' "$1"; }

echo "==> running every test"
rust_status=0
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$suite_logs/rust.log" || rust_status=$?
    # nextest closes with "Summary [ 12.3s] 85 tests run: 85 passed, 0 skipped" (or "..., 2 failed, ...").
    summary=$(strip_ansi "$suite_logs/rust.log" | grep -E '^ *Summary .* tests? run:' | tail -1 || true)
    rust_passed=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$summary")
    rust_failed=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$summary")
    [ -n "$rust_passed" ] && rust_failed=${rust_failed:-0}
else
    cargo test --workspace --no-fail-fast 2>&1 | tee "$suite_logs/rust.log" || rust_status=$?
    # One "test result: ok. 12 passed; 0 failed; ..." line per test binary.
    read -r rust_passed rust_failed < <(strip_ansi "$suite_logs/rust.log" | awk '
        /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }; n++ }
        END { if (n) print p, f }' || true) || true
fi

# The Node packages, from local/package-lock.json; reinstalled when the lock file changed.
lock=local/package-lock.json
stamp=local/node_modules/.installed-from-lock.sha256
if [ -f "$lock" ]; then
    lock_hash=$(sha256sum "$lock" | cut -d' ' -f1)
    if [ ! -d local/node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
        echo "==> installing the Node packages (npm ci --prefix local)"
        npm ci --prefix local --no-audit --no-fund
        echo "$lock_hash" >"$stamp"
    fi
elif [ ! -d local/node_modules ]; then
    echo "==> installing the Node packages (npm install --prefix local; no lock file)"
    npm install --prefix local --no-audit --no-fund
fi

echo "==> Postman collection (newman) against $E2E_BASE_URL"
newman_status=0
newman_started=$SECONDS
local/node_modules/.bin/newman run postman/jwt-auth-api.postman_collection.json \
    --env-var "baseUrl=$E2E_BASE_URL" \
    --timeout-request 30000 --color off --disable-unicode \
    --reporters cli,junit --reporter-junit-export "$artifacts/newman-junit.xml" \
    2>&1 | tee "$suite_logs/newman.log" || newman_status=$?
newman_seconds=$((SECONDS - newman_started))
# The run's table: "| assertions | 73 | 0 |" (executed, failed).
read -r newman_total newman_failed < <(strip_ansi "$suite_logs/newman.log" |
    awk -F'|' '$2 ~ /^ *assertions *$/ { gsub(/ /, "", $3); gsub(/ /, "", $4); print $3, $4 }' || true) || true
newman_passed=""
[ -n "${newman_total:-}" ] && newman_passed=$((newman_total - newman_failed))

echo "==> schemathesis against openapi.yaml and $E2E_BASE_URL"
schemathesis_status=0
schemathesis_started=$SECONDS
bash local/schemathesis.sh 2>&1 | tee "$suite_logs/schemathesis.log" || schemathesis_status=$?
schemathesis_seconds=$((SECONDS - schemathesis_started))
# Its last count: "schemathesis: 1096 passed, 0 failed" (generated test cases).
read -r schemathesis_passed schemathesis_failed < <(strip_ansi "$suite_logs/schemathesis.log" |
    sed -nE 's/^schemathesis: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' | tail -1 || true) || true

echo "==> browser test of the password reset (headless $CHROMIUM_PATH)"
browser_status=0
browser_started=$SECONDS
node --test local/browser/reset-password.test.mjs 2>&1 | tee "$suite_logs/browser.log" || browser_status=$?
browser_seconds=$((SECONDS - browser_started))
# node's test runner closes with "# pass 2" / "# fail 0" (TAP) or "ℹ pass 2" / "ℹ fail 0" (spec).
browser_passed=$(strip_ansi "$suite_logs/browser.log" | sed -nE 's/^(#|ℹ) pass ([0-9]+)$/\2/p' | tail -1)
browser_failed=$(strip_ansi "$suite_logs/browser.log" | sed -nE 's/^(#|ℹ) fail ([0-9]+)$/\2/p' | tail -1)
[ -f "$artifacts/reset-password.png" ] && echo "==> screenshot: $artifacts/reset-password.png"

echo "==> independent verification of the access tokens (PyJWT, JWKS over HTTP)"
jwks_status=0
jwks_started=$SECONDS
python3 local/verify-jwks.py 2>&1 | tee "$suite_logs/jwks.log" || jwks_status=$?
jwks_seconds=$((SECONDS - jwks_started))
# It closes with "jwks: 12 passed, 0 failed".
jwks_passed=$(sed -nE 's/^jwks: ([0-9]+) passed, ([0-9]+) failed$/\1/p' "$suite_logs/jwks.log" | tail -1)
jwks_failed=$(sed -nE 's/^jwks: ([0-9]+) passed, ([0-9]+) failed$/\2/p' "$suite_logs/jwks.log" | tail -1)

verdict() { if [ "$1" = 0 ]; then echo passed; else echo "FAILED (exit $1)"; fi; }
counts() { [ -n "$1" ] && echo " ($1 passed, ${2:-?} failed)"; }
echo
echo "==> Rust tests: $(verdict "$rust_status")$(counts "${rust_passed:-}" "${rust_failed:-}")"
echo "==> Postman collection (newman, ${newman_seconds}s): $(verdict "$newman_status")$(counts "$newman_passed" "${newman_failed:-}")"
echo "==> schemathesis (${schemathesis_seconds}s): $(verdict "$schemathesis_status")$(counts "${schemathesis_passed:-}" "${schemathesis_failed:-}")"
echo "==> browser test (${browser_seconds}s): $(verdict "$browser_status")$(counts "${browser_passed:-}" "${browser_failed:-}")"
echo "==> independent token verification (${jwks_seconds}s): $(verdict "$jwks_status")$(counts "${jwks_passed:-}" "${jwks_failed:-}")"
if [ -n "${rust_passed:-}" ] && [ -n "$newman_passed" ] && [ -n "${schemathesis_passed:-}" ] \
    && [ -n "${browser_passed:-}" ] && [ -n "${browser_failed:-}" ] \
    && [ -n "${jwks_passed:-}" ] && [ -n "${jwks_failed:-}" ]; then
    echo "summary: $((rust_passed + newman_passed + schemathesis_passed + browser_passed + jwks_passed)) passed, $((rust_failed + newman_failed + schemathesis_failed + browser_failed + jwks_failed)) failed"
fi
if [ "$rust_status" != 0 ] || [ "$newman_status" != 0 ] || [ "$schemathesis_status" != 0 ] \
    || [ "$browser_status" != 0 ] || [ "$jwks_status" != 0 ]; then
    echo "error: make test failed" >&2
    exit 1
fi
