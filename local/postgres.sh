# Sourced by the scripts in local/: finds a PostgreSQL to test against, or starts a throwaway one.
#
# use_or_start_test_postgres sets TEST_DATABASE_URL to a server whose user may create databases:
#   1. TEST_DATABASE_URL or DATABASE_URL, if it answers;
#   2. otherwise a throwaway cluster from the machine's PostgreSQL server binaries (initdb/pg_ctl),
#      in a temporary directory on a free loopback port, stopped and deleted on exit;
#   3. otherwise `docker compose up -d db` when a Docker engine answers;
#   4. otherwise it fails, saying what to install.

pg_answers() {
    psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1
}

# The newest PostgreSQL server binaries: Debian keeps them off PATH, under /usr/lib/postgresql.
find_pg_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) /usr/local/pgsql/bin; do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# PostgreSQL refuses to run as root; as root, run it as the `postgres` system user.
as_pg_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

THROWAWAY_PG_DIR=""
stop_throwaway_postgres() {
    if [ -n "$THROWAWAY_PG_DIR" ] && [ -d "$THROWAWAY_PG_DIR" ]; then
        as_pg_user "$PG_BINDIR/pg_ctl" -D "$THROWAWAY_PG_DIR/data" stop -m immediate >/dev/null 2>&1 || true
        rm -rf "$THROWAWAY_PG_DIR"
    fi
}

start_throwaway_postgres() {
    PG_BINDIR=$(find_pg_bindir) || return 1
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "running as root and there is no 'postgres' user to run PostgreSQL as" >&2
        return 1
    fi
    THROWAWAY_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/jwt-auth-pg.XXXXXX")
    [ "$(id -u)" = 0 ] && chown postgres "$THROWAWAY_PG_DIR"
    # Passwords are checked over TCP, as on RDS (the credential-rotation test relies on it);
    # the superuser's is random, and lives only in TEST_DATABASE_URL.
    local password
    password=$(head -c 18 /dev/urandom | base64 | tr -d '\n/+=')
    printf '%s\n' "$password" >"$THROWAWAY_PG_DIR/pwfile"
    [ "$(id -u)" = 0 ] && chown postgres "$THROWAWAY_PG_DIR/pwfile"
    as_pg_user "$PG_BINDIR/initdb" -D "$THROWAWAY_PG_DIR/data" -U postgres --pwfile="$THROWAWAY_PG_DIR/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync >"$THROWAWAY_PG_DIR/initdb.log" 2>&1 \
        || { cat "$THROWAWAY_PG_DIR/initdb.log" >&2; return 1; }
    rm -f "$THROWAWAY_PG_DIR/pwfile"
    # pg_stat_statements lets the benchmark count the statements each request runs (local/bench.sh);
    # it can only be loaded at server start, and only when the server package ships it.
    local preload=""
    [ -n "$("$PG_BINDIR/pg_config" --pkglibdir 2>/dev/null)" ] \
        && [ -f "$("$PG_BINDIR/pg_config" --pkglibdir)/pg_stat_statements.so" ] \
        && preload="-c shared_preload_libraries=pg_stat_statements"
    local attempt port
    for attempt in 1 2 3 4 5 6 7 8; do
        port=$((20000 + RANDOM % 30000))
        port_is_free "$port" || continue
        # Durability is pointless for a throwaway cluster; many parallel tests need connections.
        if as_pg_user "$PG_BINDIR/pg_ctl" -D "$THROWAWAY_PG_DIR/data" -l "$THROWAWAY_PG_DIR/server.log" -w -t 60 start \
            -o "-p $port -k $THROWAWAY_PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off $preload" >/dev/null; then
            TEST_DATABASE_URL="postgres://postgres:$password@127.0.0.1:$port/postgres"
            echo "==> started a throwaway PostgreSQL ($("$PG_BINDIR/postgres" --version)) on 127.0.0.1:$port"
            return 0
        fi
    done
    cat "$THROWAWAY_PG_DIR/server.log" >&2
    return 1
}

use_or_start_test_postgres() {
    if ! command -v psql >/dev/null 2>&1; then
        echo "error: psql not found. Install the PostgreSQL client and server (Debian/Ubuntu: apt-get install postgresql)." >&2
        return 1
    fi
    local candidate
    for candidate in "${TEST_DATABASE_URL:-}" "${DATABASE_URL:-}"; do
        if [ -n "$candidate" ] && pg_answers "$candidate"; then
            TEST_DATABASE_URL=$candidate
            echo "==> using the PostgreSQL at TEST_DATABASE_URL/DATABASE_URL"
            export TEST_DATABASE_URL
            return 0
        fi
    done
    if start_throwaway_postgres; then
        export TEST_DATABASE_URL
        return 0
    fi
    stop_throwaway_postgres
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        echo "==> starting PostgreSQL with docker compose"
        docker compose up -d --wait db
        TEST_DATABASE_URL="postgres://${POSTGRES_USER:-auth}:${POSTGRES_PASSWORD:-auth}@127.0.0.1:5002/postgres"
        if pg_answers "$TEST_DATABASE_URL"; then
            export TEST_DATABASE_URL
            return 0
        fi
    fi
    cat >&2 <<'MSG'
error: no PostgreSQL to test against. Any one of these works:
  - set TEST_DATABASE_URL to a server whose user may CREATE DATABASE;
  - install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql;
    macOS: brew install postgresql@16), which the tests start and stop by themselves;
  - install Docker, for `docker compose up -d db`.
MSG
    return 1
}
