#!/usr/bin/env bash
# Lints the GitHub Actions workflows in .github/workflows:
#   - actionlint: syntax, expressions and contexts, action inputs, job graph; it runs shellcheck on
#     every `run:` script;
#   - zizmor, offline: security audits (template injection, token permissions, credentials left by
#     checkout, unpinned actions, dangerous triggers, ...).
# Exits non-zero when either reports a problem. The tools are installed from PyPI, at the versions
# pinned in local/requirements/workflows.txt, into a virtualenv of their own, .local/venv-ci
# (gitignored), by local/bootstrap.sh: the first time and whenever that file changes.
set -euo pipefail
cd "$(dirname "$0")/.."
source local/bootstrap.sh workflows

VENV=.local/venv-ci
WORKFLOWS=.github/workflows

run() {
    echo "+ $*"
    "$@"
}

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
