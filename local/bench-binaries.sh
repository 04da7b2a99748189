#!/usr/bin/env bash
# Size, cold start and sign-in memory of every function's release binary (issue 6, parts 3-4).
# Writes target/bench/binaries.json:
#   {"functions":[{name, stripped_bytes, zipped_bytes, cold_start_ms_median, cold_start_runs,
#                  warm_ms_median}], "signin_peak_rss_kib", "machine"}
#
#   stripped_bytes   the release binary after `strip --strip-all` (the profile strips already)
#   zipped_bytes     a zip holding it as `bootstrap`, as the Lambda provided.al2023 runtime takes it
#   cold_start_*     process start to the first invocation's response, through a real Lambda
#                    Runtime API (`cargo lambda watch --only-lambda-apis` on loopback), including
#                    the database connection; BENCH_RUNS runs (7), median. See
#                    local/bench-coldstart.py for each function's first request.
#   warm_ms_median   the same request again on the warm process, to tell start-up from work
#   signin_peak_rss_kib  the highest VmHWM of a sign-in process after seven sign-ins
#
#   BENCH_RUNS     cold starts per function (7)
#   BENCH_BIN_DIR  measure the binaries in this directory instead of building the release profile
#
# Builds for this machine's architecture (x86_64 here; Lambda runs arm64, whose binaries are of
# similar size). Only 127.0.0.1 is contacted; only the processes this script starts are stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
source local/postgres.sh

for tool in strip zip openssl python3 psql; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool not found" >&2; exit 1; }
done
cargo lambda --version >/dev/null 2>&1 || { echo "error: cargo-lambda is not installed; install it with: pip install cargo-lambda" >&2; exit 1; }

OUT_DIR=target/bench
WATCH_PID=""
BENCH_DB=""
WORK=$(mktemp -d "${TMPDIR:-/tmp}/jwt-auth-bench-binaries.XXXXXX")
cleanup() {
    if [ -n "$WATCH_PID" ]; then
        kill -TERM -- "-$WATCH_PID" 2>/dev/null || true
        wait "$WATCH_PID" 2>/dev/null || true
    fi
    [ -n "$BENCH_DB" ] && psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
    stop_throwaway_postgres
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if [ -n "${BENCH_BIN_DIR:-}" ]; then
    bin_dir=$BENCH_BIN_DIR
    echo "==> measuring the binaries in $bin_dir (BENCH_BIN_DIR; nothing built)"
else
    echo "==> building the release binaries"
    cargo build --release --workspace --bins
    target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    bin_dir="$target_dir/release"
fi

echo "==> sizes"
sizes="$WORK/sizes.tsv"
: >"$sizes"
for dir in functions/*/; do
    name=$(basename "$dir")
    mkdir -p "$WORK/zip/$name"
    cp "$bin_dir/$name" "$WORK/zip/$name/bootstrap"
    strip --strip-all "$WORK/zip/$name/bootstrap"
    (cd "$WORK/zip/$name" && zip -q -X bootstrap.zip bootstrap)
    printf '%s\t%s\t%s\n' "$name" "$(stat -c %s "$WORK/zip/$name/bootstrap")" \
        "$(stat -c %s "$WORK/zip/$name/bootstrap.zip")" >>"$sizes"
done
column -t "$sizes"

use_or_start_test_postgres
BENCH_DB="bench_bin_$(date +%s)_$$"
psql "$TEST_DATABASE_URL" -qc "CREATE DATABASE $BENCH_DB" >/dev/null
base=${TEST_DATABASE_URL%%\?*}
query=${TEST_DATABASE_URL#"$base"}
case "${base#*://}" in */*) base=${base%/*} ;; esac
BENCH_DATABASE_URL="$base/$BENCH_DB$query"
DATABASE_URL=$BENCH_DATABASE_URL "$bin_dir/migrate"

port=""
for _ in $(seq 1 20); do
    candidate=$((20000 + RANDOM % 30000))
    if port_is_free "$candidate"; then port=$candidate; break; fi
done
[ -n "$port" ] || { echo "error: no free port for the Runtime API" >&2; exit 1; }
echo "==> Lambda Runtime API (cargo lambda watch --only-lambda-apis) on 127.0.0.1:$port"
setsid cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$port" \
    >"$WORK/watch.log" 2>&1 &
WATCH_PID=$!
for _ in $(seq 1 60); do
    grep -q 'starting Runtime server' "$WORK/watch.log" 2>/dev/null && ! port_is_free "$port" && break
    kill -0 "$WATCH_PID" 2>/dev/null || { cat "$WORK/watch.log" >&2; exit 1; }
    sleep 0.5
done

echo "==> cold starts (${BENCH_RUNS:-7} per function)"
env -u AWS_LAMBDA_RUNTIME_API \
    BENCH_RUNTIME_PORT="$port" BENCH_BIN_DIR="$bin_dir" BENCH_OUT="$WORK/coldstart.json" \
    DATABASE_URL="$BENCH_DATABASE_URL" \
    JWT_PRIVATE_KEY="$(openssl genpkey -algorithm ed25519)" \
    RESET_URL="http://127.0.0.1/reset-password" \
    RATE_LIMIT_SIGNUP=100000000 RATE_LIMIT_SIGNIN=100000000 RATE_LIMIT_FORGOT_PASSWORD=100000000 \
    RESET_EMAILS_PER_WINDOW=100000000 \
    python3 local/bench-coldstart.py

mkdir -p "$OUT_DIR"
python3 - "$sizes" "$WORK/coldstart.json" "$OUT_DIR/binaries.json" <<'PY'
import json, os, platform, sys

sizes, coldstart, out = sys.argv[1:4]
measured = json.load(open(coldstart))
functions = []
for line in open(sizes):
    name, stripped, zipped = line.split()
    timing = measured["functions"].get(name, {"cold_start_ms_median": None, "cold_start_runs": [], "warm_ms_median": None})
    functions.append({"name": name, "stripped_bytes": int(stripped), "zipped_bytes": int(zipped), **timing})
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
machine = f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"
json.dump({"functions": functions, "signin_peak_rss_kib": measured["signin_peak_rss_kib"],
           "signin_peak_rss_runs_kib": measured["signin_peak_rss_runs_kib"], "machine": machine},
          open(out, "w"), indent=2)
print(f"==> wrote {out}")
print(f"{'function':<16} {'stripped':>10} {'zipped':>10} {'cold ms':>9} {'warm ms':>9}")
for f in functions:
    cold = f["cold_start_ms_median"]
    warm = f["warm_ms_median"]
    print(f"{f['name']:<16} {f['stripped_bytes']:>10} {f['zipped_bytes']:>10} "
          f"{cold if cold is not None else '-':>9} {warm if warm is not None else '-':>9}")
print(f"sign-in peak RSS: {measured['signin_peak_rss_kib']} KiB")
PY
