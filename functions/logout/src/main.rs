//! Lambda function for `POST /api/logout`: wiring only, the handler is `auth::handlers::logout`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run};

fn main() -> Result<(), Error> {
    run(Endpoint::Logout, auth::handlers::logout)
}
