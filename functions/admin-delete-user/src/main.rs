//! Lambda function for `DELETE /admin/users/{id}`, the admin API: wiring only: its route, made when it is
//! compiled, names its handler.
#![forbid(unsafe_code)]

fn main() -> Result<(), auth::lambda::Error> {
    auth::lambda::run(const { auth::Endpoint::AdminDeleteUser.route() })
}
