//! `testkit outbox-token DATABASE_URL RECIPIENT LINK_PREFIX`: prints the token that follows
//! `LINK_PREFIX` in the newest email queued for `RECIPIENT`, as its recipient would read it; for
//! the tests not written in Rust (the browser test), so that the outbox is read in one place.
//! Exits 1, saying why on stderr, when there is no such email or link yet.

use std::process::ExitCode;
use std::str::FromStr;

use anyhow::Context;
use testkit::database::block_on;

pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let [url, recipient, prefix] = args else {
        anyhow::bail!("usage: testkit outbox-token DATABASE_URL RECIPIENT LINK_PREFIX");
    };
    let config = tokio_postgres::Config::from_str(url).context("DATABASE_URL")?;
    let token = block_on(async {
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .context("connecting to the outbox's database")?;
        tokio::spawn(connection);
        testkit::outbox::link_token(&client, recipient, prefix).await
    });
    match token {
        Ok(token) => {
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("{error:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}
