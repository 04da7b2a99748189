//! The login role of the functions (every one but `migrate`): created by `migrate`, after the
//! migrations, with exactly the DML the code runs on each table and nothing that alters a table.
//!
//! The migrating user owns the tables, and an owner can do anything to them: switch off the audit
//! log's append-only trigger, drop it, grant itself back what was revoked. So the functions log in
//! as another role, which owns nothing, belongs to no role, and holds only the grants below; the
//! database then refuses an `UPDATE`, `DELETE` or `ALTER TABLE` of `auth_events` by the API itself,
//! whatever its code does.

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio_postgres::error::SqlState;

use super::MigrationSession;
use crate::config::{DatabaseConfig, RuntimeRole};

/// What the runtime role may do to each table: what the statements of `store/`, the janitor and
/// the SQL functions they call (`hit_rate_limit` and the sign-in lockout's `begin_signin_attempt`
/// and `end_signin_attempt`, which run as the caller) do there, nothing more. `SELECT … FOR UPDATE` needs `UPDATE`; an `INSERT … ON CONFLICT DO
/// UPDATE` needs `UPDATE` too. Every table of the schema must be listed here (refinery's history
/// excepted, which the role may not even read): [`ensure`] refuses a schema with a table this list
/// does not decide, so a new table cannot ship without a decision.
pub const RUNTIME_GRANTS: &[(&str, &str)] = &[
    // Sign-up inserts; changes of password and address update; deletion and the janitor's pruning
    // of unconfirmed accounts delete (the rows hanging from a user cascade).
    ("users", "SELECT, INSERT, UPDATE, DELETE"),
    ("sessions", "SELECT, INSERT, UPDATE, DELETE"),
    ("refresh_tokens", "SELECT, INSERT, UPDATE, DELETE"),
    // Logout inserts; the janitor deletes expired rows; nothing changes one.
    ("revoked_tokens", "SELECT, INSERT, DELETE"),
    ("reset_tokens", "SELECT, INSERT, UPDATE, DELETE"),
    ("email_outbox", "SELECT, INSERT, UPDATE, DELETE"),
    ("rate_limits", "SELECT, INSERT, UPDATE, DELETE"),
    ("signin_failures", "SELECT, INSERT, UPDATE, DELETE"),
    // A sign-in keeps its new device token and deletes the one it replaces (and the oldest beyond
    // twenty); the janitor deletes expired ones; nothing changes one.
    ("signin_devices", "SELECT, INSERT, DELETE"),
    ("email_verifications", "SELECT, INSERT, UPDATE, DELETE"),
    // Second factors: enrolment replaces a pending secret, acceptance advances its step,
    // disabling deletes it; recovery codes are used once (UPDATE) and replaced as a set; the
    // challenge between password and code counts wrong codes; the failure window is upserted.
    ("mfa_totp", "SELECT, INSERT, UPDATE, DELETE"),
    ("mfa_recovery_codes", "SELECT, INSERT, UPDATE, DELETE"),
    ("mfa_challenges", "SELECT, INSERT, UPDATE, DELETE"),
    ("mfa_failures", "SELECT, INSERT, UPDATE, DELETE"),
    // Passkeys: registered (INSERT), listed, updated by each sign-in (counter, backup flags,
    // last use), removed by their owner.
    ("passkeys", "SELECT, INSERT, UPDATE, DELETE"),
    // A ceremony is written by its start and taken by its finish (`DELETE … RETURNING`, which
    // needs SELECT); the janitor deletes the expired ones; nothing changes one.
    ("webauthn_ceremonies", "SELECT, INSERT, DELETE"),
    // OpenID sign-in: a flow is written by the authorize redirect and taken by the callback, a
    // one-time code written by the callback and taken by the token exchange (`DELETE …
    // RETURNING`); identities are linked, listed and unlinked. The janitor deletes expired flows
    // and codes.
    ("oauth_flows", "SELECT, INSERT, DELETE"),
    ("oauth_codes", "SELECT, INSERT, DELETE"),
    ("oauth_identities", "SELECT, INSERT, DELETE"),
    // Append-only: written and read, never changed or removed (the trigger says so to the owner);
    // the janitor prunes past the retention through `prune_auth_events` (see [`FUNCTIONS`]).
    ("auth_events", "SELECT, INSERT"),
];

/// Functions the public may not run, which the runtime role may: `prune_auth_events` runs as the
/// tables' owner (`SECURITY DEFINER`) and deletes audit events, never ones younger than 30 days.
pub const FUNCTIONS: &[&str] = &["prune_auth_events(integer)"];

/// The table refinery keeps the applied migrations in: the role gets nothing on it.
const MIGRATION_HISTORY: &str = "refinery_schema_history";

/// Creates the runtime role, or sets its password if it exists (it is the same role on every
/// deploy), and grants it [`RUNTIME_GRANTS`] afresh: every privilege on the schema's tables is
/// revoked first, so a grant removed from the list is removed from the database too. Refuses a
/// role that could do more than its grants: one with any of the attributes beyond `LOGIN`, one
/// that owns anything here or is a member of another role, or the migrating user itself.
pub async fn ensure(config: &DatabaseConfig, role: &RuntimeRole) -> anyhow::Result<()> {
    let session = MigrationSession::open(config).await?;
    let client = &session.client;
    let migrating: String = client.query_one("SELECT current_user", &[]).await?.get(0);
    anyhow::ensure!(
        role.name != migrating,
        "the runtime role {} is the migrating user: the functions need a login of their own",
        role.name
    );
    check_every_table_is_decided(client).await?;

    // The password travels as a SCRAM-SHA-256 verifier: no statement or log line holds it.
    let verifier =
        postgres_protocol::password::scram_sha_256(role.password.expose_secret().as_bytes());
    let exists = client
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role.name])
        .await?
        .is_some();
    let set_password =
        |verb: &str| format!("{verb} ROLE {} WITH LOGIN PASSWORD %L", quote(&role.name));
    let created = !exists
        && match run_formatted(client, &set_password("CREATE"), &verifier).await {
            Ok(()) => true,
            // Created meanwhile by a deploy of another database of the cluster: set it instead
            // (a race on the catalog's unique index shows as a unique violation).
            Err(e)
                if e.code() == Some(&SqlState::DUPLICATE_OBJECT)
                    || e.code() == Some(&SqlState::UNIQUE_VIOLATION) =>
            {
                false
            }
            Err(e) => return Err(e).context("creating the runtime role"),
        };
    if !created {
        run_formatted(client, &set_password("ALTER"), &verifier)
            .await
            .context("setting the runtime role's password")?;
    }
    check_role_is_plain(client, &role.name).await?;

    let name = quote(&role.name);
    let mut grants = format!(
        "BEGIN;
         REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {name};
         REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {name};
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;
         GRANT USAGE ON SCHEMA public TO {name};
         DO $$ BEGIN
             EXECUTE format('GRANT CONNECT ON DATABASE %I TO {name}', current_database());
         END $$;
        "
    );
    for (table, privileges) in RUNTIME_GRANTS {
        grants.push_str(&format!(
            "GRANT {privileges} ON TABLE public.{} TO {name};\n",
            quote(table)
        ));
    }
    for function in FUNCTIONS {
        grants.push_str(&format!(
            "GRANT EXECUTE ON FUNCTION public.{function} TO {name};\n"
        ));
    }
    grants.push_str("COMMIT;");
    client
        .batch_execute(&grants)
        .await
        .context("granting the runtime role its privileges")?;
    tracing::info!(role = %role.name, created, "runtime role ready");
    session.close().await;
    Ok(())
}

/// Runs `template` (one `%L`, for `value`) as formatted by the server, which quotes the literal.
async fn run_formatted(
    client: &tokio_postgres::Client,
    template: &str,
    value: &str,
) -> Result<(), tokio_postgres::Error> {
    let statement: String = client
        .query_one("SELECT format($1, $2::text)", &[&template, &value])
        .await?
        .get(0);
    client.batch_execute(&statement).await
}

/// Every table of the schema is in [`RUNTIME_GRANTS`], and every table there exists.
async fn check_every_table_is_decided(client: &tokio_postgres::Client) -> anyhow::Result<()> {
    let rows = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename <> $1",
            &[&MIGRATION_HISTORY],
        )
        .await?;
    let tables: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    let undecided: Vec<&String> = tables
        .iter()
        .filter(|table| RUNTIME_GRANTS.iter().all(|(listed, _)| listed != table))
        .collect();
    anyhow::ensure!(
        undecided.is_empty(),
        "tables without a decision in RUNTIME_GRANTS (shared/src/db/runtime_role.rs): {undecided:?}"
    );
    let missing: Vec<&str> = RUNTIME_GRANTS
        .iter()
        .map(|(table, _)| *table)
        .filter(|table| !tables.iter().any(|t| t == table))
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "RUNTIME_GRANTS lists tables the schema does not have: {missing:?}"
    );
    Ok(())
}

/// The role can log in and do nothing else on its own: no attribute beyond `LOGIN`, no membership
/// (a member of the owner's role would inherit ownership), nothing owned in this database.
async fn check_role_is_plain(client: &tokio_postgres::Client, name: &str) -> anyhow::Result<()> {
    let row = client
        .query_one(
            "SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication
                    OR r.rolbypassrls AS powerful,
                    EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid) AS member,
                    EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid)
                    OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspowner = r.oid)
                    OR EXISTS (SELECT 1 FROM pg_proc p WHERE p.proowner = r.oid) AS owner
             FROM pg_roles r WHERE r.rolname = $1",
            &[&name],
        )
        .await?;
    let (powerful, member, owner): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
    anyhow::ensure!(
        !powerful && !member && !owner,
        "the runtime role {name} can do more than its grants (superuser, createrole, createdb, \
         replication or bypassrls: {powerful}; member of a role: {member}; owns objects here: \
         {owner}); give the functions a plain login role"
    );
    Ok(())
}

/// A double-quoted identifier (the names here are checked plain, this is belt and braces).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
