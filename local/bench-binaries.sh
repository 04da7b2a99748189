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
# similar size). Runs inside `testkit stack --release --runtime-api-only` (make bench starts it
# so), which migrates a scratch database and serves the Lambda Runtime API on STACK_PORT, passing
# the functions' configuration (DATABASE_URL, JWT_PRIVATE_KEY, ...) in the environment; it stops
# it all afterwards. Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${STACK_PORT:?STACK_PORT is not set: run this inside the stack (make bench, or cargo run -p testkit -- stack --release --runtime-api-only -- bash local/bench-binaries.sh)}"
for tool in strip zip python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool not found" >&2; exit 1; }
done

OUT_DIR=target/bench
WORK=$(mktemp -d "${TMPDIR:-/tmp}/jwt-auth-bench-binaries.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

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

echo "==> cold starts (${BENCH_RUNS:-7} per function), against the Runtime API on 127.0.0.1:$STACK_PORT"
env -u AWS_LAMBDA_RUNTIME_API \
    BENCH_RUNTIME_PORT="$STACK_PORT" BENCH_BIN_DIR="$bin_dir" BENCH_OUT="$WORK/coldstart.json" \
    RESET_URL="http://127.0.0.1/reset-password" \
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
