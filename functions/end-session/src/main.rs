//! Lambda function for `DELETE /api/sessions/{id}`: wiring only, the handler is `auth::handlers::end_session`.
#![forbid(unsafe_code)]

use auth::Endpoint;
use auth::lambda::{Error, run};

fn main() -> Result<(), Error> {
    run(Endpoint::EndSession, auth::handlers::end_session)
}
