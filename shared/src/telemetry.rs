//! Structured logging: JSON lines through `tracing`, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the JSON subscriber on stdout; a second call (as in tests) is a no-op.
pub fn init() {
    let _ = try_init_with(filter_from_env(), std::io::stdout);
}

/// `RUST_LOG` as target directives (`info`, `auth=debug,warn`, ...); `info` when unset or invalid.
/// Per-target levels, not `EnvFilter`'s span and field filters: those need the regex engine, which
/// would grow every function binary for a feature these logs do not use.
pub fn filter_from_env() -> Targets {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// Installs the functions' subscriber with its filter and writer: what [`init`] installs, and what
/// the log tests capture.
pub fn try_init_with<W>(
    filter: Targets,
    writer: W,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(writer)
        // The span list carries the runtime's `requestId` next to our route and method.
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false);
    tracing_subscriber::registry()
        .with(without_statement_parameters(filter))
        .with(format)
        .try_init()
        .map_err(Into::into)
}

/// tokio-postgres logs every statement with its parameters at debug: password hashes, token
/// hashes, the reset email with its link. Its logs stay at info and above whatever `RUST_LOG`
/// asks for, for the crate and for each of its modules named in `RUST_LOG`.
fn without_statement_parameters(filter: Targets) -> Targets {
    const DRIVER: &str = "tokio_postgres";
    let at_most_info = |level: LevelFilter| level.min(LevelFilter::INFO);
    let driver_level = filter
        .iter()
        .find(|(target, _)| *target == DRIVER)
        .map_or(LevelFilter::INFO, |(_, level)| at_most_info(level));
    let capped = filter.iter().map(|(target, level)| {
        if target.starts_with(DRIVER) {
            (target.to_owned(), at_most_info(level))
        } else {
            (target.to_owned(), level)
        }
    });
    let rebuilt = Targets::new()
        .with_targets(capped)
        .with_target(DRIVER, driver_level);
    match filter.default_level() {
        Some(level) => rebuilt.with_default(level),
        None => rebuilt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn capped(directives: &str) -> Targets {
        without_statement_parameters(directives.parse().expect("valid directives"))
    }

    #[test]
    fn the_driver_never_logs_below_info_whatever_rust_log_asks() {
        for directives in [
            "trace",
            "tokio_postgres=trace",
            "tokio_postgres::query=debug,trace",
            "info,tokio_postgres::prepare=trace",
        ] {
            let filter = capped(directives);
            for target in [
                "tokio_postgres",
                "tokio_postgres::query",
                "tokio_postgres::prepare",
            ] {
                assert!(
                    !filter.would_enable(target, &Level::DEBUG),
                    "{directives}: {target} at debug"
                );
                assert!(
                    filter.would_enable(target, &Level::INFO),
                    "{directives}: {target} at info"
                );
            }
        }
    }

    #[test]
    fn other_targets_keep_the_levels_rust_log_gives_them() {
        let filter = capped("warn,auth=trace");
        assert!(filter.would_enable("auth::service", &Level::TRACE));
        assert!(!filter.would_enable("lambda_runtime", &Level::INFO));
        assert!(filter.would_enable("lambda_runtime", &Level::WARN));
        // A stricter level for the driver is kept.
        let quiet = capped("info,tokio_postgres=error");
        assert!(!quiet.would_enable("tokio_postgres", &Level::WARN));
    }
}
