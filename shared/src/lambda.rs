//! The Lambda runtime wiring shared by every function: telemetry, configuration and state once per
//! cold start, then one logged, error-mapped call to the endpoint's handler per request.

use std::future::Future;
use std::time::Instant;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response, service_fn};
use tracing::Instrument;

use crate::config::{Config, DatabaseConfig};
use crate::error::ApiError;
use crate::handlers::HandlerResult;
use crate::routes::Endpoint;
use crate::service::App;
use crate::{db, telemetry};

pub use lambda_http::Error;

/// Runs an endpoint that needs the database and keys. Fails at cold start, loudly, on bad config.
pub fn run<H, F>(endpoint: Endpoint, handler: H) -> Result<(), Error>
where
    H: Fn(&'static App, Request) -> F,
    F: Future<Output = HandlerResult> + Send + 'static,
{
    telemetry::init();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "refusing to start"))?;
    // Leaked on purpose: the state lives as long as the process, and handlers borrow it.
    let app: &'static App = Box::leak(Box::new(App::new(config)?));
    runtime()?.block_on(lambda_http::run(service_fn(move |request: Request| {
        let method = request.method().clone();
        dispatch(endpoint, method, handler(app, request))
    })))
}

/// Runs an endpoint that needs no state (`/`, `/api/public`, the 404 catch-all).
pub fn run_stateless<H, F>(endpoint: Endpoint, handler: H) -> Result<(), Error>
where
    H: Fn(Request) -> F,
    F: Future<Output = HandlerResult> + Send + 'static,
{
    telemetry::init();
    runtime()?.block_on(lambda_http::run(service_fn(move |request: Request| {
        let method = request.method().clone();
        dispatch(endpoint, method, handler(request))
    })))
}

/// Applies the migrations to `DATABASE_URL` (the `migrate` binary).
pub fn run_migrations() -> Result<(), Error> {
    telemetry::init();
    let config = DatabaseConfig::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "refusing to start"))?;
    let applied = runtime()?
        .block_on(db::migrate(&config))
        .inspect_err(|e| tracing::error!(error = format!("{e:#}"), "migration failed"))?;
    tracing::info!(?applied, "database schema is up to date");
    Ok(())
}

/// One Lambda instance handles one request at a time, so a current-thread runtime is enough and
/// starts faster; Argon2 still runs on the blocking pool, off this thread.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Checks the method, runs the handler's future (unpolled, so dropped unrun on a wrong method),
/// turns errors into JSON responses and logs one line with the outcome. Never returns `Err`: a
/// Lambda error would reach the client as an opaque 502.
pub async fn dispatch(
    endpoint: Endpoint,
    method: Method,
    handling: impl Future<Output = HandlerResult>,
) -> Result<Response<Body>, Error> {
    let started = Instant::now();
    // The route, not the raw path: a reset token in the URL must not reach the logs.
    let span = tracing::info_span!("request", function = endpoint.function(), %method, route = endpoint.path());
    async move {
        let result = match endpoint.method() {
            Some(allowed) if allowed != method => Err(ApiError::MethodNotAllowed(allowed)),
            _ => handling.await,
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let response = match result {
            Ok(response) => {
                tracing::info!(
                    status = response.status().as_u16(),
                    elapsed_ms,
                    "request handled"
                );
                response
            }
            Err(error) => {
                let status = error.status().as_u16();
                match error.cause() {
                    // `{:#}` prints the whole cause chain; driver errors carry no credentials.
                    Some(cause) => {
                        let cause = format!("{cause:#}");
                        tracing::error!(
                            status,
                            elapsed_ms,
                            error = error.code(),
                            cause,
                            "request failed"
                        )
                    }
                    None => {
                        tracing::info!(status, elapsed_ms, error = error.code(), "request handled")
                    }
                }
                error.to_response()
            }
        };
        Ok(response)
    }
    .instrument(span)
    .await
}
