//! Structured logging: JSON lines through `tracing`, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber on stdout; a second call (as in tests) is a no-op.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = try_init_with(filter, std::io::stdout);
}

/// Installs the functions' subscriber with its filter and writer: what [`init`] installs, and what
/// the log tests capture.
pub fn try_init_with<W>(
    filter: EnvFilter,
    writer: W,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(without_statement_parameters(filter))
        .with_writer(writer)
        // The span list carries the runtime's `requestId` next to our route and method.
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .try_init()
}

/// tokio-postgres logs every statement with its parameters at debug: password hashes, token
/// hashes, the reset email with its link. Its logs stay at info and above whatever `RUST_LOG`
/// asks for (a later directive for the same target replaces an earlier one).
fn without_statement_parameters(filter: EnvFilter) -> EnvFilter {
    ["tokio_postgres=info", "tokio_postgres::query=info"]
        .into_iter()
        .fold(filter, |filter, directive| {
            filter.add_directive(directive.parse().expect("a valid directive"))
        })
}
