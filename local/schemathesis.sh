#!/usr/bin/env bash
# Schemathesis against the running local stack, from `make test` (local/test.sh sets
# E2E_BASE_URL): requests generated from openapi.yaml, valid and invalid, through every phase
# (examples, coverage, fuzzing, stateful), each answer checked against the document: no 5xx, and
# every status code, content type, header and body as documented, 405 with `Allow` for other
# methods. Fails below SCHEMATHESIS_MIN_CASES generated test cases (default 1000), so a change
# that quietly shrinks the run does not pass for a green one.
#
# Deterministic: a fixed seed and no example database; the same stack state gives the same run.
# Load: about 1,100 requests in half a minute, at most ~450 to one endpoint
# (POST /api/reset-password/{token}), ~170 to POST /api/signin; per-IP rate limits on the stack
# must allow that.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${E2E_BASE_URL:?E2E_BASE_URL is not set: local/test.sh starts the stack and sets it}"
MIN_CASES=${SCHEMATHESIS_MIN_CASES:-1000}
# Per operation and phase; 60 gives 1,096 test cases over the 10 operations.
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-60}
SEED=${SCHEMATHESIS_SEED:-20260101}
REPORT_DIR=${SCHEMATHESIS_REPORT_DIR:-target/artifacts}

if ! command -v schemathesis >/dev/null 2>&1; then
    echo "error: schemathesis is not installed; install it with: pip install 'schemathesis==4.32.5'" >&2
    exit 1
fi
case "$E2E_BASE_URL" in
    http://127.0.0.1:* | http://localhost:*) ;;
    *) echo "error: E2E_BASE_URL must be the local stack on loopback, not $E2E_BASE_URL" >&2; exit 1 ;;
esac

# The account local/schemathesis/schemathesis.toml signs in with, so the operations that take an
# access token are exercised with a real one too.
SCHEMATHESIS_EMAIL="schemathesis-$(date +%s)-$$@example.com"
SCHEMATHESIS_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '\n/+=')
export SCHEMATHESIS_EMAIL SCHEMATHESIS_PASSWORD
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$E2E_BASE_URL/api/signup" \
    -H 'Content-Type: application/json' \
    -d "{\"name\":\"Schemathesis\",\"email\":\"$SCHEMATHESIS_EMAIL\",\"password\":\"$SCHEMATHESIS_PASSWORD\"}")
if [ "$status" != 201 ]; then
    echo "error: signing up the schemathesis account answered $status" >&2
    exit 1
fi

mkdir -p "$REPORT_DIR"
log=$(mktemp "${TMPDIR:-/tmp}/jwt-auth-schemathesis.XXXXXX.log")
trap 'rm -f "$log"' EXIT
run_status=0
schemathesis --config-file local/schemathesis/schemathesis.toml --no-color \
    run openapi.yaml --url "$E2E_BASE_URL" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method,allow_header_conformance \
    --max-examples "$MAX_EXAMPLES" --seed "$SEED" --generation-database none \
    --workers 1 --request-timeout 60 \
    --report junit --report-junit-path "$REPORT_DIR/schemathesis-junit.xml" \
    2>&1 | tee "$log" || run_status=$?

# Its summary: "Test cases:" then "  1096 generated, 1096 passed, 44 skipped", or with failures
# "  577 generated, 3 found 6 unique failures, 2 errored" (3 test cases failed, 2 errored).
counts=$(grep -A1 '^Test cases:' "$log" | tail -1)
generated=$(sed -nE 's/^ *([0-9]+) generated.*/\1/p' <<<"$counts")
passed=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$counts")
failing=$(sed -nE 's/.* ([0-9]+) found [0-9]+ unique failures?.*/\1/p' <<<"$counts")
errored=$(sed -nE 's/.* ([0-9]+) errored.*/\1/p' <<<"$counts")
if [ -z "$generated" ]; then
    echo "error: no test case count in schemathesis's output" >&2
    exit 1
fi
failed=$((${failing:-0} + ${errored:-0}))
passed=${passed:-$((generated - failed))}
echo "schemathesis: $generated test cases generated (at least $MIN_CASES required)"
# Read by local/test.sh for its closing summary.
echo "schemathesis: $passed passed, $failed failed"
if [ "$generated" -lt "$MIN_CASES" ]; then
    echo "error: schemathesis generated only $generated test cases, fewer than $MIN_CASES" >&2
    exit 1
fi
exit "$run_status"
