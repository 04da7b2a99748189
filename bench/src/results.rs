//! What `bench run` measures, as written to `target/bench/handlers.json` and read by `bench report`.

use serde::{Deserialize, Serialize};

use crate::stats::Summary;

/// One run of the in-process benchmark.
#[derive(Debug, Serialize, Deserialize)]
pub struct HandlerRun {
    pub machine: Machine,
    /// One `SELECT 1` on the app's pool plus one access-token verification: what any
    /// authenticated request costs at the least.
    pub floor: Summary,
    /// Statements per floor iteration as PostgreSQL counted them: one, if the counting is right.
    #[serde(default)]
    pub floor_statements: Option<f64>,
    /// Argon2id at the parameters the API uses, hashing and verifying one password.
    pub argon2_hash: Summary,
    pub argon2_verify: Summary,
    pub endpoints: Vec<EndpointRun>,
    /// Why statements per request are missing, when they are.
    pub statements_unavailable: Option<String>,
}

/// Where the numbers come from.
#[derive(Debug, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub postgres: String,
    /// The database pool's size, as in production (one request at a time per instance).
    pub pool_size: usize,
}

/// One endpoint's handler, called through the same router and `respond` as in Lambda.
#[derive(Debug, Serialize, Deserialize)]
pub struct EndpointRun {
    /// The function's name (`dashboard`, `forgot-password`, ...).
    pub endpoint: String,
    pub method: String,
    pub path: String,
    #[serde(flatten)]
    pub summary: Summary,
    /// The median as a multiple of the floor's median.
    pub floor_ratio: f64,
    /// Statements the server executed per request, in steady state (after the warm-up).
    pub statements_per_request: Option<f64>,
}
