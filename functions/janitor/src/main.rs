//! Lambda function `janitor`, run on a schedule: wiring only, the work is `auth::janitor::sweep`.
#![forbid(unsafe_code)]

fn main() -> Result<(), auth::lambda::Error> {
    auth::lambda::run_janitor()
}
