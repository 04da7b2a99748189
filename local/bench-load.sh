#!/usr/bin/env bash
# Load through the local stack (issue 6, part 5): the release build of every function served by
# `cargo lambda watch` on loopback, driven by wrk at concurrency 1 and 16 against
# GET /api/dashboard, POST /api/signin and POST /api/refresh for a fixed duration each.
# Writes target/bench/load.json: {"runs":[{endpoint, concurrency, duration_s, rps, p50_ms,
# p99_ms, errors, status_counts}], "machine"}.
#
#   BENCH_DURATION   seconds per measured run (10)
#   BENCH_WARMUP     seconds of unrecorded load before each run, at the same concurrency (3): the
#                    watch server starts one instance per concurrent request, as Lambda does, and
#                    their cold starts belong to the cold-start benchmark, not to these percentiles
#   BENCH_INSTANCES  instances per function the watch server may run (16, the highest concurrency)
#
# Requests carry the right password (no lockout), the per-client budgets are raised (every request
# comes from 127.0.0.1), and each refresh connection presents the token the previous answer handed
# it, as a client does: a refresh token is single-use (a second use after the 10 s grace revokes
# its session), so a fixed token cannot be replayed, and no setting is loosened for the run.
#
# Runs inside `testkit stack --release --concurrency $BENCH_INSTANCES` (make bench starts it so),
# which serves the release build on a migrated scratch database, sets BASE_URL, and stops it all
# afterwards. Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${BASE_URL:?BASE_URL is not set: run this inside the stack (make bench, or cargo run -p testkit -- stack --release --concurrency 16 -- bash local/bench-load.sh)}"
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
INSTANCES=${BENCH_INSTANCES:-16}
CONCURRENCIES=(1 16)
OUT_DIR=target/bench
PASSWORD='Bench-Horse-Battery-42!'

for tool in wrk curl python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        case "$tool" in
            wrk) echo "error: wrk not found (the load generator); install it with: apt-get install wrk" >&2 ;;
            *) echo "error: $tool not found" >&2 ;;
        esac
        exit 1
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/jwt-auth-bench-load.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

email="bench-$(date +%s)-$$@example.com"
credentials=$(printf '{"email":"%s","password":"%s"}' "$email" "$PASSWORD")
curl -fsS -o /dev/null -H 'Content-Type: application/json' \
    -d "$(printf '{"name":"Bench User","email":"%s","password":"%s"}' "$email" "$PASSWORD")" "$BASE_URL/api/signup"
signin() {
    curl -fsS -H 'Content-Type: application/json' -d "$credentials" "$BASE_URL/api/signin"
}
field() {
    python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
# One session per refresh chain: a warm-up and a measured run at each concurrency.
refresh_tokens() {
    local file=$1 count=$2
    : >"$file"
    for _ in $(seq 1 "$count"); do signin | field refresh_token >>"$file"; done
}
access_token=$(signin | field access_token)
# accounts FILE COUNT: that many signed-up accounts, as sign-in bodies, one a line.
accounts() {
    local file=$1 count=$2 address
    : >"$file"
    for i in $(seq 1 "$count"); do
        address="bench-$i-$(date +%s%N)@example.com"
        curl -fsS -o /dev/null -H 'Content-Type: application/json' \
            -d "$(printf '{"name":"Bench User","email":"%s","password":"%s"}' "$address" "$PASSWORD")" "$BASE_URL/api/signup"
        printf '{"email":"%s","password":"%s"}\n' "$address" "$PASSWORD" >>"$file"
    done
}

# run_wrk PATH CONCURRENCY SECONDS RESULT [env assignments...]: one wrk run, its numbers written
# by local/bench-load.lua as one JSON line to the file RESULT.
run_wrk() {
    local path=$1 concurrency=$2 seconds=$3 result=$4
    shift 4
    rm -f "$result"
    env "$@" BENCH_RESULT_FILE="$result" wrk -t "$concurrency" -c "$concurrency" -d "${seconds}s" \
        --timeout 10s -s local/bench-load.lua "$BASE_URL$path" >/dev/null
    if [ ! -s "$result" ]; then
        echo "error: wrk wrote no result" >&2
        exit 1
    fi
}

results="$WORK/results.jsonl"
: >"$results"
for endpoint in "GET /api/dashboard" "POST /api/signin" "POST /api/refresh"; do
    method=${endpoint%% *}
    path=${endpoint#* }
    for concurrency in "${CONCURRENCIES[@]}"; do
        settings=(BENCH_METHOD="$method")
        warm_settings=(BENCH_METHOD="$method")
        case "$path" in
            /api/dashboard)
                settings+=(BENCH_BEARER="$access_token")
                warm_settings+=(BENCH_BEARER="$access_token") ;;
            /api/signin)
                # One account per connection: parallel sign-ins of one account count as
                # guesses in flight and trip its lockout, by design (see README, Security).
                accounts "$WORK/accounts" "$concurrency"
                settings+=(BENCH_BODIES="$WORK/accounts")
                warm_settings+=(BENCH_BODIES="$WORK/accounts") ;;
            /api/refresh)
                refresh_tokens "$WORK/warm-chains" "$concurrency"
                refresh_tokens "$WORK/chains" "$concurrency"
                settings+=(BENCH_REFRESH_TOKENS="$WORK/chains")
                warm_settings+=(BENCH_REFRESH_TOKENS="$WORK/warm-chains") ;;
        esac
        echo "==> $endpoint at concurrency $concurrency: ${WARMUP}s warm-up, then ${DURATION}s measured"
        run_wrk "$path" "$concurrency" "$WARMUP" "$WORK/warm-up.json" "${warm_settings[@]}"
        run_wrk "$path" "$concurrency" "$DURATION" "$WORK/run.json" "${settings[@]}"
        printf '{"endpoint":"%s","concurrency":%d,"duration_s":%d,"wrk":%s}\n' \
            "$endpoint" "$concurrency" "$DURATION" "$(cat "$WORK/run.json")" >>"$results"
    done
done

mkdir -p "$OUT_DIR"
python3 - "$results" "$OUT_DIR/load.json" "$INSTANCES" <<'PY'
import json, os, platform, sys

results, out, instances = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = []
for line in open(results):
    run = json.loads(line)
    wrk = run.pop("wrk")
    seconds = wrk["duration_us"] / 1e6
    status_counts = {str(k): v for k, v in sorted(wrk["status_counts"].items())}
    errors = wrk["errors"]
    connection_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    non_2xx = sum(n for s, n in status_counts.items() if not s.startswith("2"))
    run.update(
        rps=round(wrk["requests"] / seconds, 1),
        requests=wrk["requests"],
        p50_ms=round(wrk["p50_us"] / 1000, 2),
        p99_ms=round(wrk["p99_us"] / 1000, 2),
        mean_ms=round(wrk["mean_us"] / 1000, 2),
        max_ms=round(wrk["max_us"] / 1000, 2),
        errors=non_2xx + connection_errors,
        non_2xx=non_2xx,
        server_errors=sum(n for s, n in status_counts.items() if s.startswith("5")),
        connection_errors=connection_errors,
        status_counts=status_counts,
    )
    runs.append(run)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
machine = f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"
json.dump({"runs": runs, "machine": machine, "generator": "wrk", "instances_per_function": instances},
          open(out, "w"), indent=2)
print(f"==> wrote {out}")
for r in runs:
    print(f"{r['endpoint']:<20} c={r['concurrency']:<3} {r['rps']:>8.1f} req/s  p50 {r['p50_ms']:>8.2f} ms  "
          f"p99 {r['p99_ms']:>8.2f} ms  errors {r['errors']}  {r['status_counts']}")
PY
