#!/usr/bin/env bash
# `make dev`: PostgreSQL, migrations, then cargo lambda watch in the foreground (testkit/, `dev`).
# API_PORT (5001) and POSTGRES_PORT (5002) say where; Ctrl-C stops the API, `make down` the database.
set -euo pipefail
cd "$(dirname "$0")/.."
source local/bootstrap.sh dev
exec cargo run --quiet -p testkit -- dev
