//! The harness every test run, the local stack and the benchmark share: what the shell scripts in
//! `local/` used to do, once, in Rust. The scripts are thin entry points into the `testkit`
//! binary (`src/main.rs`); the tests and the benchmark may use the library directly.
//!
//! - [`ports`]: a free loopback port.
//! - [`cluster`]: a PostgreSQL cluster of our own: throwaway (tests) or persistent (`make dev`).
//! - [`database`]: the server to test against, and scratch databases that drop themselves.
//! - [`process`]: supervised child processes: own process group, log file, readiness, stop.
//! - [`stack`]: moto, and the functions served by `cargo lambda watch` on a migrated database.
//! - [`junit`]: counting (and writing) JUnit XML reports.
#![forbid(unsafe_code)]

pub mod cluster;
pub mod database;
pub mod junit;
pub mod ports;
pub mod process;
pub mod stack;
