# shellcheck shell=bash
# The project's self-installing front door: installs what this machine lacks for the given
# purposes, then exports what the scripts that source it rely on. Every entry script starts with
#
#     source local/bootstrap.sh PURPOSE...
#
# PURPOSE    what it installs when missing
#   dev      cargo-lambda; unless a Docker engine answers, PostgreSQL's server binaries; npm ci
#            (make dev's test OpenID provider, and MailDev, its inbox without Docker)
#   check    cargo-nextest; PostgreSQL's server binaries
#   test     cargo-lambda, moto, schemathesis, PyJWT; newman, playwright-core and MailDev (npm ci);
#            cargo-nextest; PostgreSQL's server binaries; Chromium; docker-compose where the docker
#            client has no `docker compose`
#   bench    cargo-lambda, moto; PostgreSQL's server binaries; wrk, binutils (strip)
#   lint     cargo-deny
#   build    cargo-lambda
#   ci       all that .ci/run needs: lint, test and bench, and make
#   workflows, template  the CI linters of local/check-workflows.sh and local/check-template.sh,
#            each in a venv of its own (.local/venv-ci, .local/venv-sam and .local/venv-checkov:
#            their dependencies clash)
#
# Where things go:
#   - Python tools: into the project's virtualenv .local/venv (never the user's global Python),
#     from the pinned files in local/requirements/ (see local/requirements/lock.py); a file is
#     installed again when its sha256 differs from the one kept in the venv;
#   - Node packages: `npm ci --prefix local` when local/node_modules is missing or
#     local/package-lock.json changed (its sha256 is kept in local/node_modules);
#   - system packages: apt-get, as root or through passwordless sudo; otherwise one message with
#     the command to run, and failure;
#   - cargo-nextest: `cargo install --locked cargo-nextest`.
# Not installed, must be there: Rust (stable, with cargo), Python 3.10 or later, Node.js 20 or later
# with npm (test, dev), make; Docker is optional.
#
# Exports, for the caller:
#   PATH           with <repo>/.local/venv/bin, then <repo>/local/node_modules/.bin, first
#   CHROMIUM_PATH  (test, ci) the browser of the browser test: CHROMIUM_PATH when it names an
#                  executable (GitHub's runners: /usr/bin/google-chrome), else /usr/bin/chromium
# and nothing else: no other variable or function is left behind.
#
# Prints one "==> installing ..." line per install, and nothing when nothing is missing. A run with
# nothing to install takes 0.07-0.26 s (measured for `test bench lint` on a 2-core Debian 12
# machine, most of it asking node its version); from a fresh clone, 30-60 s without cargo-nextest.
# Works under `set -euo pipefail` in the caller, and in a condition (`source ... || exit`): the
# installing is done by this file run as a child process (`bash local/bootstrap.sh PURPOSE...`,
# which also works on its own, without the exports), so the caller's shell options do not matter.
# Returns non-zero, after saying why on stderr, when something cannot be installed.

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced: install in a child process, then export into the caller's shell.
    _bootstrap_root=$(CDPATH='' cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || return 1
    case " $* " in
        *" test "* | *" ci "*)
            if [ -z "${CHROMIUM_PATH:-}" ] || [ ! -x "$CHROMIUM_PATH" ]; then
                CHROMIUM_PATH=/usr/bin/chromium
            fi
            export CHROMIUM_PATH
            ;;
    esac
    if ! bash "$_bootstrap_root/local/bootstrap.sh" "$@"; then
        unset _bootstrap_root
        return 1
    fi
    # Each directory moves to the front (once, even when sourced again).
    for _bootstrap_dir in "$_bootstrap_root/local/node_modules/.bin" "$_bootstrap_root/.local/venv/bin"; do
        PATH=":$PATH:"
        PATH=${PATH//":$_bootstrap_dir:"/:}
        PATH=${PATH#:}
        PATH="$_bootstrap_dir:${PATH%:}"
    done
    export PATH
    unset _bootstrap_root _bootstrap_dir
    return 0
fi

# Run as a program: the installing.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "error: $*" >&2
    exit 1
}

[ $# -gt 0 ] || fail "usage: source local/bootstrap.sh PURPOSE... (dev check test bench lint build ci workflows template)"

purposes=()
ci=0
for purpose in "$@"; do
    case $purpose in
        ci) purposes+=(lint test bench) ci=1 ;;
        dev | check | test | bench | lint | build | workflows | template) purposes+=("$purpose") ;;
        *) fail "unknown purpose '$purpose' (dev check test bench lint build ci workflows template)" ;;
    esac
done

# What the purposes need.
requirements=() # files of local/requirements/, without .txt
debs=()         # Debian packages that are missing
postgres=""     # "server": PostgreSQL's server binaries; "server-or-docker": or a Docker engine
node=0 nextest=0 rust=0

need_command() { # command, Debian package
    command -v "$1" >/dev/null 2>&1 || debs+=("$2")
}

docker_engine="" # yes or no, once asked
docker_answers() {
    if [ -z "$docker_engine" ]; then
        docker_engine=no
        if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
            docker_engine=yes
        fi
    fi
    [ "$docker_engine" = yes ]
}

for purpose in "${purposes[@]}"; do
    case $purpose in
        dev | check | test | bench | lint | build) rust=1 ;;
    esac
    case $purpose in
        dev)
            requirements+=(lambda)
            [ -n "$postgres" ] || postgres=server-or-docker
            # make dev's test OpenID provider (local/oidc-provider.mjs) and, unless Mailpit from
            # docker-compose.yml serves its ports, its inbox (MailDev): local/package-lock.json.
            node=1
            ;;
        check)
            # The tests of sign-in through a provider run the test OpenID provider (Node.js,
            # local/package-lock.json).
            node=1 nextest=1
            postgres=server
            ;;
        test)
            requirements+=(lambda test)
            node=1 nextest=1
            postgres=server
            # local/schemathesis.sh signs its account up with curl.
            need_command curl curl
            # The browser test of the password-reset page drives Chromium (playwright-core).
            [ -x "${CHROMIUM_PATH:-}" ] || CHROMIUM_PATH=/usr/bin/chromium
            [ -x "$CHROMIUM_PATH" ] || debs+=(chromium)
            # The tests check docker-compose.yml with `docker compose config` where the docker
            # client is installed; without its compose plugin, Debian's docker-compose does it.
            if command -v docker >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1 \
                && ! docker compose version >/dev/null 2>&1; then
                debs+=(docker-compose)
            fi
            ;;
        bench)
            # moto (in test's set): the production-shaped cold starts read their secrets from it.
            requirements+=(lambda test)
            postgres=server
            # Provider sign-ins are measured against the test OpenID provider (Node.js).
            node=1
            # wrk drives the load benchmark; `bench binaries` strips each function's binary
            # (zipping it in process) to measure its Lambda archive.
            need_command wrk wrk
            need_command strip binutils
            ;;
        lint) requirements+=(lint) ;;
        build) requirements+=(lambda) ;;
        workflows) requirements+=(workflows) ;;
        # cfn-lint and the SAM CLI; checkov in a venv of its own (its dependencies clash with SAM's).
        template) requirements+=(template checkov) ;;
    esac
done
# .ci/run ends with `make test`.
[ "$ci" = 0 ] || need_command make make

if [ "$rust" = 1 ] && ! command -v cargo >/dev/null 2>&1; then
    fail "cargo not found: install Rust (stable) with rustup, https://rustup.rs"
fi

if [ "$node" = 1 ]; then
    # newman, the browser test and MailDev run on Node.js; Debian 12's own nodejs (18) is too old.
    node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)
    if ! command -v npm >/dev/null 2>&1 || [ -z "$node_major" ] || [ "$node_major" -lt 20 ]; then
        fail "make test and make dev need Node.js 20 or later with npm (found: $(node --version 2>/dev/null || echo no node)$(command -v npm >/dev/null 2>&1 || echo ', no npm')). Debian 12's nodejs package is 18: install Node.js 20+ from NodeSource (https://github.com/nodesource/distributions) or with nvm (https://github.com/nvm-sh/nvm)"
    fi
fi

has_pg_server() {
    local initdb
    for initdb in /usr/lib/postgresql/*/bin/initdb; do
        [ -x "$initdb" ] && return 0
    done
    command -v initdb >/dev/null 2>&1
}
case $postgres in
    server) has_pg_server || debs+=(postgresql) ;;
    server-or-docker)
        if ! has_pg_server && ! docker_answers; then
            debs+=(postgresql)
        fi
        ;;
esac

# The venvs to make, and the requirement files whose sha256 is not the one installed.
declare -A stale=() # venv -> "file file ..."
venvs=()
for name in $(printf '%s\n' "${requirements[@]}" | sort -u); do
    file=local/requirements/$name.txt
    venv=$(sed -n 's/^# venv: *//p' "$file")
    [ -n "$venv" ] || fail "$file names no venv ('# venv:' line)"
    read -r hash _ < <(sha256sum "$file")
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements-$name.sha256" 2>/dev/null)" != "$hash" ]; then
        [ -n "${stale[$venv]:-}" ] || venvs+=("$venv")
        stale[$venv]="${stale[$venv]:-} $file"
    fi
done

# A new venv needs python3 (3.10 or later) with its venv module, which Debian ships apart as
# python3-venv: the first venv is made now, so that a missing python3-venv joins the apt-get below.
for venv in "${venvs[@]}"; do
    [ ! -x "$venv/bin/python" ] || continue
    command -v python3 >/dev/null 2>&1 \
        || fail "python3 not found: install Python 3.10 or later (Debian: apt-get install python3 python3-venv)"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || fail "$(python3 --version) is too old: the Python tools need Python 3.10 or later"
    if ! python3 -m venv --clear "$venv" >/dev/null 2>&1; then
        rm -rf "$venv"
        debs+=(python3-venv)
    fi
    break
done

if [ ${#debs[@]} -gt 0 ]; then
    mapfile -t debs < <(printf '%s\n' "${debs[@]}" | sort -u)
    if [ "$EUID" = 0 ]; then
        as_root=(env)
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo env)
    elif command -v apt-get >/dev/null 2>&1; then
        fail "missing system packages: ${debs[*]}. Install them (this needs root), then run this again:
    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${debs[*]}"
    fi
    command -v apt-get >/dev/null 2>&1 \
        || fail "missing: ${debs[*]} (Debian's package names); install them with this system's package manager, then run this again"
    echo "==> installing ${debs[*]} (apt-get)"
    log=$(mktemp)
    if ! { "${as_root[@]}" apt-get update -qq \
        && "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        fail "apt-get install ${debs[*]} failed (above)"
    fi
    rm -f "$log"
fi

for venv in "${venvs[@]}"; do
    read -ra files <<<"${stale[$venv]}"
    echo "==> installing ${files[*]} into $venv (pip)"
    [ -x "$venv/bin/python" ] || python3 -m venv --clear "$venv" || fail "python3 -m venv $venv failed"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${files[@]/#/--requirement=}"
    for file in "${files[@]}"; do
        name=${file##*/}
        read -r hash _ < <(sha256sum "$file")
        echo "$hash" >"$venv/.requirements-${name%.txt}.sha256"
    done
done

if [ "$node" = 1 ]; then
    lock=local/package-lock.json
    stamp=local/node_modules/.installed-from-lock.sha256
    read -r hash _ < <(sha256sum "$lock")
    if [ ! -d local/node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]; then
        echo "==> installing the Node packages of $lock (npm ci)"
        npm ci --prefix local --no-audit --no-fund --no-update-notifier --loglevel=error >/dev/null
        echo "$hash" >"$stamp"
    fi
fi

if [ "$nextest" = 1 ] && ! command -v cargo-nextest >/dev/null 2>&1 \
    && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-nextest" ]; then
    echo "==> installing cargo-nextest (cargo install --locked; it compiles for several minutes)"
    cargo install --locked --quiet cargo-nextest
fi
