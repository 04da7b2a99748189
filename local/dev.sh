#!/usr/bin/env bash
# `make dev`: PostgreSQL on localhost:5002, migrations applied, and every function served by
# `cargo lambda watch` on http://localhost:5001 at its production path. Ctrl-C stops the API;
# `make down` stops the database. Safe to run again: nothing is wiped.
set -euo pipefail
cd "$(dirname "$0")/.."
source local/postgres.sh

API_PORT=5001
DB_PORT=5002
ENV_FILE=local/.env
PGDATA_DIR=.local/pg

if [ ! -f "$ENV_FILE" ]; then
    if ! command -v openssl >/dev/null 2>&1; then
        echo "error: openssl is needed once, to generate the signing key (Debian: apt-get install openssl)" >&2
        exit 1
    fi
    # An Ed25519 key pair (the public half is derived from it and served at /.well-known/jwks.json),
    # on one line with its line breaks written as \n, single-quoted for `source` below.
    private_key=$(openssl genpkey -algorithm ed25519 | awk '{ printf "%s\\n", $0 }')
    (umask 077 && sed "s#^JWT_PRIVATE_KEY=.*#JWT_PRIVATE_KEY='${private_key//\\/\\\\}'#" .env.example >"$ENV_FILE")
    echo "==> created $ENV_FILE with a freshly generated Ed25519 JWT_PRIVATE_KEY"
fi
if [ ! -f .env.pgadmin ]; then
    pgadmin_password=$(head -c 18 /dev/urandom | base64 | tr -d '\n/+=')
    sed "s#^PGADMIN_DEFAULT_PASSWORD=.*#PGADMIN_DEFAULT_PASSWORD=$pgadmin_password#" .env.pgadmin.example >.env.pgadmin
    chmod 600 .env.pgadmin
    echo "==> created .env.pgadmin with a freshly generated pgAdmin password"
fi
set -a
source "$ENV_FILE"
source .env.pgadmin
set +a

if ! cargo lambda --version >/dev/null 2>&1; then
    echo "error: cargo-lambda is not installed; install it with: pip install cargo-lambda" >&2
    exit 1
fi

# A persistent cluster under .local/pg, for machines without a Docker engine.
start_local_cluster() {
    PG_BINDIR=$(find_pg_bindir) || return 1
    mkdir -p .local
    if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
        echo "==> creating a PostgreSQL cluster in $PGDATA_DIR"
        mkdir -p "$PGDATA_DIR"
        pwfile=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
        if [ "$(id -u)" = 0 ]; then chown postgres "$PGDATA_DIR" "$pwfile"; fi
        as_pg_user "$PG_BINDIR/initdb" -D "$PGDATA_DIR" -U "$POSTGRES_USER" --pwfile="$pwfile" \
            --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 >/dev/null
        rm -f "$pwfile"
    fi
    if ! as_pg_user "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
        as_pg_user "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w start \
            -o "-p $DB_PORT -k /tmp -c listen_addresses=localhost" >/dev/null
    fi
    admin_url="postgres://$POSTGRES_USER:$POSTGRES_PASSWORD@localhost:$DB_PORT/postgres"
    if [ "$(psql "$admin_url" -Atc "SELECT 1 FROM pg_database WHERE datname = '$POSTGRES_DB'")" != 1 ]; then
        psql "$admin_url" -qc "CREATE DATABASE \"$POSTGRES_DB\""
    fi
}

pgadmin="not running (it needs Docker)"
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    echo "==> starting PostgreSQL and pgAdmin with docker compose"
    docker compose --env-file "$ENV_FILE" up -d --wait
    pgadmin="http://localhost:5050 (login $PGADMIN_DEFAULT_EMAIL / $PGADMIN_DEFAULT_PASSWORD, from .env.pgadmin; server password: $POSTGRES_PASSWORD)"
elif pg_answers "$DATABASE_URL"; then
    echo "==> PostgreSQL already answers at localhost:$DB_PORT"
elif start_local_cluster; then
    echo "==> PostgreSQL from $PG_BINDIR is running on localhost:$DB_PORT (data in $PGDATA_DIR)"
else
    echo "error: no way to run PostgreSQL: install Docker, or the PostgreSQL server (apt-get install postgresql)" >&2
    exit 1
fi

echo "==> applying migrations"
cargo run --quiet --bin migrate

cat <<MSG

  API        http://localhost:$API_PORT   (try: curl http://localhost:$API_PORT/api/public)
  PostgreSQL $DATABASE_URL
  pgAdmin    $pgadmin
  Reset emails: their links are logged below ("email written to the log") and kept in the
             email_outbox table; the link opens the reset page at http://localhost:$API_PORT/reset-password/<token>.
  Ctrl-C stops the API; \`make down\` stops the database (data is kept).

MSG
exec cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$API_PORT" --env-file "$ENV_FILE"
