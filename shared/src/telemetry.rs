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
        .with(without_credentials(filter))
        .with(format)
        .try_init()
        .map_err(Into::into)
}

/// Crates whose most verbose logs can carry credentials, and the most verbose level each may log
/// at, whatever `RUST_LOG` asks: tokio-postgres logs every statement with its parameters at debug
/// (password hashes, token hashes, a queued email's link); the Lambda runtime logs the raw event
/// at trace (a password in the body, the `Authorization` header, a reset token in the path); the
/// AWS SDK, its HTTP stack and lettre log requests and responses at trace (a secret's value, an
/// SMTP login).
const CAPPED: &[(&str, LevelFilter)] = &[
    ("tokio_postgres", LevelFilter::INFO),
    ("lambda_runtime", LevelFilter::DEBUG),
    ("lambda_runtime_api_client", LevelFilter::DEBUG),
    ("lambda_http", LevelFilter::DEBUG),
    ("aws_config", LevelFilter::DEBUG),
    ("aws_runtime", LevelFilter::DEBUG),
    ("aws_sigv4", LevelFilter::DEBUG),
    ("aws_smithy_runtime", LevelFilter::DEBUG),
    ("aws_smithy_runtime_api", LevelFilter::DEBUG),
    ("aws_smithy_http", LevelFilter::DEBUG),
    ("aws_sdk_secretsmanager", LevelFilter::DEBUG),
    ("aws_sdk_sesv2", LevelFilter::DEBUG),
    ("hyper", LevelFilter::DEBUG),
    ("hyper_util", LevelFilter::DEBUG),
    ("hyper_rustls", LevelFilter::DEBUG),
    ("lettre", LevelFilter::DEBUG),
];

/// `filter` with each [`CAPPED`] crate held at its cap: for the crate and for each of its
/// modules named in `RUST_LOG`.
fn without_credentials(filter: Targets) -> Targets {
    let cap_of = |target: &str| {
        CAPPED
            .iter()
            .find(|(krate, _)| {
                target == *krate
                    || target
                        .strip_prefix(krate)
                        .is_some_and(|rest| rest.starts_with("::"))
            })
            .map(|(_, cap)| *cap)
    };
    let default = filter.default_level().unwrap_or(LevelFilter::OFF);
    let capped = filter.iter().map(|(target, level)| {
        let level = cap_of(target).map_or(level, |cap| level.min(cap));
        (target.to_owned(), level)
    });
    let mut rebuilt = Targets::new().with_targets(capped);
    for (krate, cap) in CAPPED {
        let asked = filter
            .iter()
            .find(|(target, _)| target == krate)
            .map_or(default, |(_, level)| level);
        rebuilt = rebuilt.with_target(*krate, asked.min(*cap));
    }
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
        without_credentials(directives.parse().expect("valid directives"))
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
    fn no_crate_that_logs_payloads_or_credentials_logs_at_trace_whatever_rust_log_asks() {
        for directives in [
            "trace",
            "lambda_runtime=trace,trace",
            "info,lambda_runtime::layers::api_response=trace",
            "aws_smithy_runtime::client::orchestrator=trace",
            "lettre=trace,hyper=trace,h2=trace,aws_sdk_sesv2=trace",
        ] {
            let filter = capped(directives);
            for (krate, _) in CAPPED {
                for target in [krate.to_string(), format!("{krate}::some::module")] {
                    assert!(
                        !filter.would_enable(&target, &Level::TRACE),
                        "{directives}: {target} at trace"
                    );
                }
            }
        }
        assert!(capped("trace").would_enable("lambda_runtime", &Level::DEBUG));
        assert!(capped("trace").would_enable("auth::handlers", &Level::TRACE));
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
