//! Statements the server executed, counted by PostgreSQL itself: the `calls` of
//! `pg_stat_statements`, summed over one database. `BEGIN`, `COMMIT` and `ROLLBACK` count (the
//! extension tracks utility statements by default); a statement prepared once and executed many
//! times counts once per execution, which is one round trip each.

use anyhow::Context;
use tokio_postgres::NoTls;

/// Reads the server's statement counts for one database over its own connection to another
/// database, so that reading them adds nothing to what it counts.
pub struct StatementCounter {
    admin: tokio_postgres::Client,
    database: String,
}

impl StatementCounter {
    /// Connects to the server's maintenance database (`admin`) and checks that the extension is
    /// loaded; the error says how to load it when it is not.
    pub async fn connect(
        admin: &tokio_postgres::Config,
        database: &str,
    ) -> anyhow::Result<StatementCounter> {
        let (client, connection) = admin
            .connect(NoTls)
            .await
            .context("connecting to count statements")?;
        tokio::spawn(connection);
        // `IF NOT EXISTS` does not make two concurrent creations safe (the loser fails on the
        // catalog's unique index), and the benchmark's tests count in parallel: one at a time.
        client
            .batch_execute(
                "BEGIN;
                 SELECT pg_advisory_xact_lock(hashtext('bench: create pg_stat_statements'));
                 CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
                 COMMIT;",
            )
            .await
            .context("creating the pg_stat_statements extension")?;
        let counter = StatementCounter {
            admin: client,
            database: database.to_owned(),
        };
        counter.total().await.context(
            "reading pg_stat_statements (the server must run with \
             shared_preload_libraries=pg_stat_statements, as the harness's throwaway cluster does)",
        )?;
        Ok(counter)
    }

    /// Statements executed so far in the database, by every client, once none of its sessions
    /// is still busy: a statement's count lands when the server finishes it, which can be just
    /// after its client has its rows.
    pub async fn total(&self) -> anyhow::Result<i64> {
        for _ in 0..10_000 {
            let row = self
                .admin
                .query_one(
                    "SELECT
                       (SELECT count(*) FROM pg_stat_activity
                        WHERE datname = $1 AND backend_type = 'client backend' AND state <> 'idle'),
                       (SELECT coalesce(sum(calls), 0)::int8 FROM pg_stat_statements
                        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1))",
                    &[&self.database],
                )
                .await?;
            let busy: i64 = row.get(0);
            if busy == 0 {
                return Ok(row.get(1));
            }
            tokio::time::sleep(std::time::Duration::from_micros(50)).await;
        }
        anyhow::bail!("the database {} never went idle", self.database)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::database::ScratchDatabase;

    /// A counter over a new, empty database, and a client of that database (which lives as long
    /// as the guard).
    async fn counted_client() -> (StatementCounter, tokio_postgres::Client, ScratchDatabase) {
        let admin = testkit::database::server().unwrap();
        let database = ScratchDatabase::create(&admin, "bench").await.unwrap();
        let counter = StatementCounter::connect(&admin, database.name())
            .await
            .unwrap();
        let (client, connection) = database.config().connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        (counter, client, database)
    }

    #[tokio::test]
    async fn counts_each_execution_of_a_prepared_statement_once() {
        let (counter, client, _database) = counted_client().await;
        let statement = client.prepare("SELECT $1::int4 + 1").await.unwrap();
        let before = counter.total().await.unwrap();
        for i in 0..5_i32 {
            client.query_one(&statement, &[&i]).await.unwrap();
        }
        assert_eq!(counter.total().await.unwrap() - before, 5);
    }

    #[tokio::test]
    async fn counts_begin_and_commit_and_every_statement_of_a_batch() {
        let (counter, mut client, _database) = counted_client().await;
        let before = counter.total().await.unwrap();
        let transaction = client.transaction().await.unwrap();
        transaction.simple_query("SELECT 1").await.unwrap();
        transaction.commit().await.unwrap();
        assert_eq!(
            counter.total().await.unwrap() - before,
            3,
            "BEGIN, SELECT, COMMIT"
        );
        let before = counter.total().await.unwrap();
        client
            .batch_execute("SELECT 1; SELECT 2; SELECT 3")
            .await
            .unwrap();
        assert_eq!(counter.total().await.unwrap() - before, 3);
    }

    #[tokio::test]
    async fn does_not_count_statements_of_other_databases() {
        let (counter, client, _database) = counted_client().await;
        let (other_counter, other, _other_database) = counted_client().await;
        let before = counter.total().await.unwrap();
        other.simple_query("SELECT 1").await.unwrap();
        assert_eq!(counter.total().await.unwrap(), before);
        client.simple_query("SELECT 1").await.unwrap();
        assert_eq!(counter.total().await.unwrap() - before, 1);
        drop(other_counter);
    }
}
