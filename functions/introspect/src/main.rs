//! Lambda function for `POST /api/introspect` (RFC 7662 token introspection): wiring only: its
//! route, made when it is compiled, names its handler.
#![forbid(unsafe_code)]

fn main() -> Result<(), auth::lambda::Error> {
    auth::lambda::run(const { auth::Endpoint::Introspect.route() })
}
