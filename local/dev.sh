#!/usr/bin/env bash
# `make dev`: PostgreSQL, an SMTP server with a web inbox, migrations, then cargo lambda watch in
# the foreground and the janitor every few seconds (testkit/, `dev`). API_PORT (5001),
# POSTGRES_PORT (5002), SMTP_PORT (1025) and INBOX_PORT (1080) say where; Ctrl-C stops the API and
# MailDev, `make down` the database.
set -euo pipefail
cd "$(dirname "$0")/.."
source local/bootstrap.sh dev
exec cargo run --quiet -p testkit -- dev
