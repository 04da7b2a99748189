//! Lambda function for `GET /api/sessions`: wiring only, the handler is `auth::handlers::sessions`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run};

fn main() -> Result<(), Error> {
    run(Endpoint::Sessions, auth::handlers::sessions)
}
