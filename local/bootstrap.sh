# Stand-in, replaced by the real bootstrap at merge: the real one installs what is missing for
# each PURPOSE (cargo-lambda, moto, schemathesis and PyJWT into .local/venv, `npm ci` into
# local/node_modules, chromium/postgresql/wrk via apt). This one only exports the same PATH and
# CHROMIUM_PATH and checks that the tools are there.
#
# Sourced, from the repository root: source local/bootstrap.sh PURPOSE... (dev check test bench
# lint ci).
_bootstrap_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$_bootstrap_root/.local/venv/bin:$_bootstrap_root/local/node_modules/.bin:$PATH"
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}

_bootstrap_missing=()
_bootstrap_need() { command -v "$1" >/dev/null 2>&1 || _bootstrap_missing+=("$1"); }
for _bootstrap_purpose in "$@"; do
    case "$_bootstrap_purpose" in
        dev) _bootstrap_need cargo-lambda ;;
        check) _bootstrap_need cargo-nextest ;;
        test | ci)
            for _bootstrap_tool in cargo-lambda cargo-nextest moto_server schemathesis newman node psql; do
                _bootstrap_need "$_bootstrap_tool"
            done
            python3 -c 'import jwt, cryptography' >/dev/null 2>&1 || _bootstrap_missing+=("PyJWT[crypto]")
            [ -x "$CHROMIUM_PATH" ] || _bootstrap_missing+=("chromium ($CHROMIUM_PATH)")
            ;;
        bench)
            for _bootstrap_tool in cargo-lambda wrk zip strip python3; do
                _bootstrap_need "$_bootstrap_tool"
            done
            ;;
        lint) ;;
        *) echo "bootstrap: unknown purpose $_bootstrap_purpose" >&2; return 2 ;;
    esac
done
if [ ${#_bootstrap_missing[@]} -gt 0 ]; then
    echo "error: missing: ${_bootstrap_missing[*]} (the real local/bootstrap.sh installs them)" >&2
    return 1
fi
unset _bootstrap_root _bootstrap_missing _bootstrap_purpose _bootstrap_tool
unset -f _bootstrap_need
