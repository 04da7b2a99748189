//! Lambda function for `GET /reset-password/{token}`: wiring only, the handler is `auth::handlers::reset_page`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run_stateless};

fn main() -> Result<(), Error> {
    run_stateless(Endpoint::ResetPage, auth::handlers::reset_page)
}
