#!/usr/bin/env bash
# Schemathesis against the running local stack, from `make test` (testkit sets E2E_BASE_URL and
# SCHEMATHESIS_JUNIT): requests generated from openapi.yaml, valid and invalid, through every phase
# (examples, coverage, fuzzing, stateful), each answer checked against the document: no 5xx, and
# every status code, content type, header and body as documented, 405 with `Allow` for other
# methods. Fails below SCHEMATHESIS_MIN_CASES generated test cases (default 1000), so a change
# that quietly shrinks the run does not pass for a green one.
#
# Reports: JUnit at SCHEMATHESIS_JUNIT (one test case per operation, what make test counts), and
# schemathesis's JSON run report beside it, where the number of generated test cases is read.
#
# Deterministic: a fixed seed and no example database; the same stack state gives the same run.
# Load: about 1,100 requests in half a minute, at most ~450 to one endpoint
# (POST /api/reset-password/{token}), ~170 to POST /api/signin; per-IP rate limits on the stack
# must allow that.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${E2E_BASE_URL:?E2E_BASE_URL is not set: make test starts the stack and sets it}"
MIN_CASES=${SCHEMATHESIS_MIN_CASES:-1000}
# Per operation and phase; 60 gives 1,096 test cases over the 10 operations.
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-60}
SEED=${SCHEMATHESIS_SEED:-20260101}
JUNIT=${SCHEMATHESIS_JUNIT:-target/artifacts/junit/schemathesis.xml}
RUN_REPORT=${JUNIT%.xml}-run.json

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
if [ "$status" != 202 ]; then
    echo "error: signing up the schemathesis account answered $status" >&2
    exit 1
fi
# Its address confirmed with the emailed link, read by the harness (make test sets TESTKIT).
: "${TESTKIT:?TESTKIT is not set: local/test.sh runs this through the harness, which sets it}"
: "${E2E_DATABASE_URL:?E2E_DATABASE_URL is not set: local/test.sh starts the stack and sets it}"
token=$("$TESTKIT" outbox-token "$E2E_DATABASE_URL" "$SCHEMATHESIS_EMAIL" "$E2E_BASE_URL/verify-email#")
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$E2E_BASE_URL/api/verify-email" \
    -H 'Content-Type: application/json' -d "{\"token\":\"$token\"}")
if [ "$status" != 200 ]; then
    echo "error: confirming the schemathesis account answered $status" >&2
    exit 1
fi

mkdir -p "$(dirname "$JUNIT")"
rm -f "$RUN_REPORT"
run_status=0
schemathesis --config-file local/schemathesis/schemathesis.toml --no-color \
    run openapi.yaml --url "$E2E_BASE_URL" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method,allow_header_conformance \
    --max-examples "$MAX_EXAMPLES" --seed "$SEED" --generation-database none \
    --workers 1 --request-timeout 60 \
    --report junit,json --report-junit-path "$JUNIT" --report-json-path "$RUN_REPORT" \
    || run_status=$?

generated=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["test_cases"]["generated"])' "$RUN_REPORT") || {
    echo "error: no run report from schemathesis ($RUN_REPORT)" >&2
    exit 1
}
echo "schemathesis: $generated test cases generated (at least $MIN_CASES required)"
if [ "$generated" -lt "$MIN_CASES" ]; then
    echo "error: schemathesis generated only $generated test cases, fewer than $MIN_CASES" >&2
    exit 1
fi
exit "$run_status"
