#!/usr/bin/env bash
# Schemathesis against the running local stack, from `make test` (testkit sets E2E_BASE_URL and
# SCHEMATHESIS_JUNIT): requests generated from openapi.yaml, valid and invalid, through every phase
# (examples, coverage, fuzzing, stateful), each answer checked against the document: no 5xx, and
# every status code, content type, header and body as documented, 405 with `Allow` for other
# methods. Fails below SCHEMATHESIS_MIN_CASES generated test cases (default 1500), so a change
# that quietly shrinks the run does not pass for a green one.
#
# Reports: JUnit at SCHEMATHESIS_JUNIT (one test case per operation, what make test counts), and
# schemathesis's JSON run report beside it, where the number of generated test cases is read.
#
# Deterministic: a fixed seed and no example database; the same stack state gives the same run.
# Load: about 1,700 requests in half a minute, at most ~450 to one endpoint
# (POST /api/reset-password/{token}), ~170 to POST /api/signin; per-IP rate limits on the stack
# must allow that.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${E2E_BASE_URL:?E2E_BASE_URL is not set: make test starts the stack and sets it}"
MIN_CASES=${SCHEMATHESIS_MIN_CASES:-1500}
# Per operation and phase; 60 gives about 1,700 test cases over the 19 operations.
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

# The accounts whose access tokens the auth providers of local/schemathesis/hooks.py present, so
# the operations that take one are exercised with a real one too: each signed up, its address
# confirmed with the emailed link (read from the stack's outbox by the harness, which sets TESTKIT).
: "${TESTKIT:?TESTKIT is not set: make test runs this through the harness, which sets it}"
: "${E2E_DATABASE_URL:?E2E_DATABASE_URL is not set: make test starts the stack and sets it}"
confirmed_account() {
    local email=$1 password=$2 status token
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$E2E_BASE_URL/api/signup" \
        -H 'Content-Type: application/json' \
        -d "{\"name\":\"Schemathesis\",\"email\":\"$email\",\"password\":\"$password\"}")
    if [ "$status" != 202 ]; then
        echo "error: signing up $email answered $status" >&2
        return 1
    fi
    token=$("$TESTKIT" outbox-token "$E2E_DATABASE_URL" "$email" "$E2E_BASE_URL/verify-email#")
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$E2E_BASE_URL/api/verify-email" \
        -H 'Content-Type: application/json' -d "{\"token\":\"$token\"}")
    if [ "$status" != 200 ]; then
        echo "error: confirming $email answered $status" >&2
        return 1
    fi
}
new_password() { head -c 18 /dev/urandom | base64 | tr -d '\n/+='; }

# Signed in (and again after a generated logout) by hooks.py's SignedInAccount.
SCHEMATHESIS_EMAIL="schemathesis-$(date +%s)-$$@example.com"
SCHEMATHESIS_PASSWORD=$(new_password)
confirmed_account "$SCHEMATHESIS_EMAIL" "$SCHEMATHESIS_PASSWORD"
export SCHEMATHESIS_EMAIL SCHEMATHESIS_PASSWORD

# Signed in once, here: the operations that check the password get this account's token, and
# schemathesis's wrong passwords lock it out of signing in again (as they would any account).
checked_email="schemathesis-checked-$(date +%s)-$$@example.com"
checked_password=$(new_password)
confirmed_account "$checked_email" "$checked_password"
SCHEMATHESIS_PASSWORD_CHECKED_TOKEN=$(curl -sS -X POST "$E2E_BASE_URL/api/signin" \
    -H 'Content-Type: application/json' \
    -d "{\"email\":\"$checked_email\",\"password\":\"$checked_password\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') || {
    echo "error: signing in $checked_email gave no access token" >&2
    exit 1
}
export SCHEMATHESIS_PASSWORD_CHECKED_TOKEN

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
