//! Lambda function for `GET /api/dashboard`: wiring only, the handler is `auth::handlers::dashboard`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run};

fn main() -> Result<(), Error> {
    run(Endpoint::Dashboard, auth::handlers::dashboard)
}
