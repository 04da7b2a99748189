//! Lambda function for `POST /api/refresh`: wiring only, the handler is `auth::handlers::refresh`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run};

fn main() -> Result<(), Error> {
    run(Endpoint::Refresh, auth::handlers::refresh)
}
