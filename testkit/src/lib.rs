//! The one harness every test run, the local stack, the benchmark and the fuzz targets share:
//! what the shell scripts in `local/` used to do, and what each test binary kept a copy of, once,
//! in Rust. The scripts are thin entry points into the `testkit` binary (`src/main.rs`); the tests
//! and the benchmark use the library directly.
//!
//! - [`workspace`]: the checkout, its target directory and artifacts, as `cargo metadata` says.
//! - [`ports`]: a free loopback port.
//! - [`cluster`]: a PostgreSQL cluster of our own: throwaway (tests) or persistent (`make dev`).
//! - [`database`]: the server to test against, and scratch databases that drop themselves.
//! - [`config`]: a test [`auth::config::Config`], built by the real loader from variables.
//! - [`keys`]: the test signing keys (one file each, under `testkit/keys/`).
//! - [`requests`]: `lambda_http` requests as API Gateway delivers them.
//! - [`outbox`]: the token in an emailed link, read as a person reads their inbox.
//! - [`process`]: supervised child processes: own process group, log file, readiness, stop;
//!   the signals that make a harness clean up first.
//! - [`stack`]: moto, MailDev (an SMTP server with a web inbox), and the functions served by
//!   `cargo lambda watch` on a migrated database.
//! - [`junit`]: counting (and writing) JUnit XML reports.
//! - [`oidc`]: an app's PKCE pair, and a browser's steps at the test OpenID provider.
//! - [`tls`]: a throwaway CA and server certificate, for a cluster served with TLS.
//! - [`totp`]: the code an authenticator app shows.
//! - [`passkeys`]: a browser's side of the passkey ceremonies, with a software authenticator.
#![forbid(unsafe_code)]

pub mod cluster;
pub mod config;
pub mod database;
pub mod junit;
pub mod keys;
pub mod oidc;
pub mod outbox;
pub mod passkeys;
pub mod ports;
pub mod process;
pub mod requests;
pub mod stack;
pub mod tls;
pub mod totp;
pub mod workspace;
