//! `migrate`: applies the versioned migrations in `migrations/` to `DATABASE_URL`.
#![forbid(unsafe_code)]

fn main() -> Result<(), auth::lambda::Error> {
    auth::lambda::run_migrations()
}
