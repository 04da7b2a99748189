#!/usr/bin/env bash
# `make down`: stops the PostgreSQL `make dev` started; its data is kept (testkit/, `down`).
set -euo pipefail
cd "$(dirname "$0")/.."
source local/bootstrap.sh dev
exec cargo run --quiet -p testkit -- down
