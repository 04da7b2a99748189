# The project's front door: `make dev` runs the API locally, `make test` runs every test. The
# scripts in local/ are thin entry points into the harness, testkit/.
.PHONY: dev down check test fuzz bench lint build

## Run the API on http://localhost:5001 with PostgreSQL on localhost:5002 and the emails it sends
## in the inbox at http://127.0.0.1:1080 (Ctrl-C to stop); API_PORT, POSTGRES_PORT, SMTP_PORT and
## INBOX_PORT choose other ports.
dev:
	bash local/dev.sh

## Stop the local PostgreSQL (its data is kept).
down:
	bash local/down.sh

## The Rust tests against PostgreSQL only: the edit-run loop.
check:
	bash local/check.sh

## Every test: unit, database (real PostgreSQL), end to end over HTTP through cargo lambda watch,
## and make dev's own path; ends with `N passed, M failed`.
test:
	bash local/test.sh

## Each cargo-fuzz target for FUZZ_SECONDS (default 60); needs nightly Rust and cargo-fuzz.
fuzz:
	bash local/fuzz.sh

## The benchmark: handler cost against the floor, statements per request, binaries and load; prints
## the table and writes target/bench/report.json and target/bench/latency.svg.
bench:
	bash local/bench.sh

## Formatting, lints and the dependency policy (deny.toml), as CI checks them.
lint:
	bash local/lint.sh

## Release builds of every function for Lambda (arm64), into target/lambda/<function>/bootstrap.
build:
	cargo lambda build --release --arm64 --workspace
