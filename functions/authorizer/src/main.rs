//! Lambda function: the HTTP API's Lambda authorizer for the APIs behind us (payload 2.0, simple
//! responses): wiring only.
#![forbid(unsafe_code)]

fn main() -> Result<(), auth::lambda::Error> {
    auth::lambda::run_authorizer()
}
