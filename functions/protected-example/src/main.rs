//! Lambda function for `GET /api/protected-example` (behind the Lambda authorizer): wiring only:
//! its route, made when it is compiled, names its handler.
#![forbid(unsafe_code)]

fn main() -> Result<(), auth::lambda::Error> {
    auth::lambda::run(const { auth::Endpoint::ProtectedExample.route() })
}
