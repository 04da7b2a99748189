#!/usr/bin/env bash
# `make down`: stops the local PostgreSQL started by `make dev` (data is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
source local/postgres.sh
if [ -f .local/pg/PG_VERSION ]; then
    PG_BINDIR=$(find_pg_bindir)
    as_pg_user "$PG_BINDIR/pg_ctl" -D .local/pg stop -m fast || true
fi
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    docker compose --env-file local/.env down
fi
