//! `migrate`: applies the versioned migrations in `migrations/` to `DATABASE_URL`.

fn main() -> Result<(), auth::lambda::Error> {
    auth::lambda::run_migrations()
}
