#!/usr/bin/env bash
# `make test`: every suite, then make dev's path, then `N passed, M failed` (testkit/, `test`).
set -euo pipefail
cd "$(dirname "$0")/.."
source local/bootstrap.sh test
exec cargo run --quiet -p testkit -- test
