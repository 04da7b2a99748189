//! Lambda function for `GET /api/public`: wiring only, the handler is `auth::handlers::public`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run_stateless};

fn main() -> Result<(), Error> {
    run_stateless(Endpoint::Public, auth::handlers::public)
}
