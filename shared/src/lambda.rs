//! The Lambda runtime wiring shared by every function: telemetry, configuration and state once per
//! cold start, then one logged, error-mapped call to the endpoint's handler per request.

use std::time::{Duration, Instant, SystemTime};

use lambda_http::http::{HeaderValue, header};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Body, Request, Response, service_fn};
use tracing::Instrument;

use crate::aws::Aws;
use crate::config::{
    Config, ConfigError, DatabaseConfig, Environment, JwtSettings, MfaSettings, RuntimeRole,
};
use crate::error::ApiError;
use crate::handlers::HandlerResult;
use crate::http::error_response;
use crate::mail::Mailer;
use crate::routes::{Endpoint, Handler, Route};
use crate::service::App;
use crate::tokens::AccessTokenSigner;
use crate::{custom_resource, db, handlers, hashing, janitor, signing_key, telemetry};

pub use lambda_http::Error;

/// Runs the function of `route`: telemetry, then (for the routes that need it) the state, once
/// per cold start, then one [`respond`] per request. Fails at cold start, loudly, on bad
/// configuration. Every function's `main` is this one call, with its route made at compile time
/// (`run(const { Endpoint::X.route() })`); inlined there, the branch the route does not take is
/// compiled out, and a stateless function links no database, key or AWS code.
#[inline(always)]
pub fn run(route: Route) -> Result<(), Error> {
    match route.handler {
        Handler::Stateless(_) => run_stateless(route),
        Handler::WithKeys(_) => run_with_keys(route),
        Handler::WithApp(_) => run_with_app(route),
    }
}

/// What a function holds for its handler: nothing, the keys that verify tokens, or the [`App`].
#[derive(Clone, Copy)]
pub enum State<'a> {
    None,
    Keys(&'a AccessTokenSigner),
    App(&'a App),
}

/// The tests and the benchmark answer every route with an app (or none, for stateless routes).
impl<'a> From<Option<&'a App>> for State<'a> {
    fn from(app: Option<&'a App>) -> Self {
        app.map_or(State::None, State::App)
    }
}

fn run_stateless(route: Route) -> Result<(), Error> {
    telemetry::init();
    runtime()?.block_on(lambda_http::run(service_fn(
        move |request: Request| async move {
            Ok::<_, Error>(respond(route, State::None, request).await)
        },
    )))
}

/// The JWKS: the public keys from the environment (`JWT_PUBLIC_KEY`), no database and no secret.
fn run_with_keys(route: Route) -> Result<(), Error> {
    telemetry::init();
    db::install_crypto_provider();
    runtime()?.block_on(async move {
        let settings = JwtSettings::load(&Environment::from_process(), &Aws::from_environment())
            .await
            .and_then(|settings| missing_keys(route.endpoint, &settings).map_or(Ok(settings), Err))
            .inspect_err(|e| tracing::error!(error = %e, "refusing to start"))?;
        // Never `None` here: `missing_keys` refused to start without keys.
        let keys = AccessTokenSigner::new(&settings).ok_or("JWT_PUBLIC_KEY is not set")?;
        // Leaked on purpose, as the app is below.
        let keys: &'static AccessTokenSigner = Box::leak(Box::new(keys));
        lambda_http::run(service_fn(move |request: Request| async move {
            Ok::<_, Error>(respond(route, State::Keys(keys), request).await)
        }))
        .await
    })
}

fn run_with_app(route: Route) -> Result<(), Error> {
    telemetry::init();
    db::install_crypto_provider();
    runtime()?.block_on(async move {
        // Leaked on purpose: the state lives as long as the process, and handlers borrow it.
        let app: &'static App = Box::leak(Box::new(
            build_app(Some(route.endpoint), for_requests).await?,
        ));
        lambda_http::run(service_fn(move |request: Request| async move {
            Ok::<_, Error>(respond(route, State::App(app), request).await)
        }))
        .await
    })
}

/// Configuration (secrets included), pool and mailer, once per cold start; refused when the
/// endpoint lacks a key it needs. `mailer` makes the mailer from the configuration: a closure,
/// so that each caller's choice is compiled in and the request functions never link the
/// janitor's ([`Mailer::new`], with the SES client and lettre's SMTP code).
async fn build_app(
    endpoint: Option<Endpoint>,
    mailer: impl AsyncFnOnce(&Config, &Aws) -> Mailer,
) -> Result<App, Error> {
    let started = Instant::now();
    // Argon2's buffer, faulted in while the secrets are on their way rather than in the first
    // request's hash.
    let reserving = endpoint
        .is_some_and(Endpoint::hashes_passwords)
        .then(|| tokio::task::spawn_blocking(hashing::reserve_memory));
    let aws = Aws::from_environment();
    let config = Config::load(&Environment::from_process(), &aws).await;
    let config_ms = milliseconds_since(started);
    if let Some(reserving) = reserving {
        reserving.await?;
    }
    let config = config.and_then(|config| {
        let Some(endpoint) = endpoint else {
            return Ok(config);
        };
        if let Some(missing) = missing_keys(endpoint, &config.jwt) {
            return Err(missing);
        }
        if endpoint.uses_code_key() && config.verification.code_key.is_none() {
            return Err(ConfigError::new(
                "VERIFICATION_CODE_KEY",
                "is not set (nor VERIFICATION_CODE_KEY_ARN), and this function makes or checks \
                 the codes of confirmation emails",
            ));
        }
        if endpoint.uses_mfa_key() && config.mfa.key.is_none() {
            return Err(ConfigError::new(
                "MFA_ENCRYPTION_KEY",
                "is not set (nor MFA_ENCRYPTION_KEY_ARN), and this function seals, opens or \
                 hashes second factors",
            ));
        }
        if endpoint.uses_webauthn() && config.webauthn.rp_id_unset_in_aws {
            return Err(ConfigError::new(
                "WEBAUTHN_RP_ID",
                "is empty or unset in AWS, and this function runs passkey ceremonies: its \
                 localhost default would register passkeys no browser can use there (set the \
                 PasskeyRpId and PasskeyOrigin parameters)",
            ));
        }
        Ok(config)
    });
    let config = config.inspect_err(|e| tracing::error!(error = %e, "refusing to start"))?;
    let mailer = mailer(&config, &aws).await;
    let app = App::new(config, mailer)?;
    let state_ms = milliseconds_since(started) - config_ms;
    // The first connection (TCP, TLS, login) now rather than in the first request, which
    // follows at once on a cold start: the same work, timed apart. Best effort: a database that
    // is down now is the first request's 503, as at any later time, not a function that cannot
    // start.
    let connecting = Instant::now();
    if let Err(error) = app.pool.get().await {
        tracing::warn!(error = %error, "no database connection at start; requests will try again");
    }
    // Where a cold start's own time goes: the configuration with its secrets, the state built
    // from it, the first database connection.
    tracing::info!(
        config_ms,
        state_ms,
        connect_ms = milliseconds_since(connecting),
        "initialised"
    );
    Ok(app)
}

/// The mailer of every function but the janitor: the log, or the outbox (see
/// [`Mailer::for_requests`]).
async fn for_requests(config: &Config, _: &Aws) -> Mailer {
    Mailer::for_requests(&config.email)
}

fn milliseconds_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// Why the endpoint's function cannot start with these keys: one that signs tokens needs the
/// private key (or the HS256 secret), one that verifies them at least the public key.
fn missing_keys(endpoint: Endpoint, settings: &JwtSettings) -> Option<ConfigError> {
    match &settings.keys {
        Some(keys) if endpoint.issues_tokens() && !keys.signs() => Some(ConfigError::new(
            "JWT_PRIVATE_KEY",
            "is not set (JWT_PUBLIC_KEY only verifies), and this function signs tokens",
        )),
        None if endpoint.issues_tokens() => Some(ConfigError::new(
            "JWT_PRIVATE_KEY",
            "is not set (nor JWT_PRIVATE_KEY_ARN, nor JWT_SECRET_KEY/JWT_SECRET_ARN for HS256), \
             and this function signs tokens",
        )),
        None if endpoint.verifies_tokens() => Some(ConfigError::new(
            "JWT_PUBLIC_KEY",
            "is not set (nor JWT_PRIVATE_KEY, nor JWT_SECRET_KEY for HS256), and this function \
             verifies tokens or publishes their keys",
        )),
        _ => None,
    }
}

/// The `migrate` binary: in Lambda, the handler of the CloudFormation custom resource that
/// migrates on every deploy; elsewhere, a command that applies the migrations and exits.
pub fn run_migrations() -> Result<(), Error> {
    telemetry::init();
    db::install_crypto_provider();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return runtime()?.block_on(lambda_runtime::run(lambda_runtime::service_fn(
            answer_custom_resource,
        )));
    }
    let applied = runtime()?
        .block_on(migrate_from_environment())
        .inspect_err(|e| tracing::error!(error = format!("{e:#}"), "migration failed"))?;
    tracing::info!(?applied, "database schema is up to date");
    Ok(())
}

/// One CloudFormation event. Configuration is read per event, not at cold start: a bad value must
/// come back to CloudFormation as FAILED, not as a crashed function that leaves the stack waiting.
async fn answer_custom_resource(
    event: LambdaEvent<custom_resource::Event>,
) -> Result<custom_resource::Response, Error> {
    // Stop migrating while there is still time to answer: a function killed by its timeout would
    // leave CloudFormation waiting for an hour.
    let remaining = event
        .context
        .deadline()
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    let budget = remaining.saturating_sub(Duration::from_secs(10));
    let signing_key_secret = event.payload.resource_properties.signing_key_secret.clone();
    let mfa_key_secret = event.payload.resource_properties.mfa_key_secret.clone();
    let migrate = || async move {
        let steps = async {
            let applied = migrate_from_environment().await?;
            if let Some(secret) = mfa_key_secret {
                ensure_mfa_key(&Aws::from_environment(), &secret).await?;
            }
            let signing_public_key = match signing_key_secret {
                Some(secret) => {
                    let ensured = signing_key::ensure(&Aws::from_environment(), &secret).await?;
                    Some(ensured.public_key().to_owned())
                }
                None => None,
            };
            Ok(custom_resource::Outcome {
                applied,
                signing_public_key,
            })
        };
        tokio::time::timeout(budget, steps)
            .await
            .map_err(|_| anyhow::anyhow!("migrations did not finish within {budget:?}"))?
    };
    let log_stream = &event.context.env_config.log_stream;
    Ok(custom_resource::handle(&event.payload, log_stream, migrate).await?)
}

/// Makes sure the secret holds an `MFA_ENCRYPTION_KEY` (32 random bytes in base64), generating
/// one into it when it is empty; true when it did.
pub async fn ensure_mfa_key(aws: &Aws, secret_id: &str) -> anyhow::Result<bool> {
    signing_key::ensure_generated(aws, secret_id, MfaSettings::check_key, || {
        Ok(crate::tokens::new_key_base64()?)
    })
    .await
}

/// The migrations, then the functions' login role when one is configured ([`RuntimeRole`]).
async fn migrate_from_environment() -> anyhow::Result<Vec<String>> {
    let env = Environment::from_process();
    let aws = Aws::from_environment();
    let config = DatabaseConfig::load(&env, &aws).await?;
    let runtime_role = RuntimeRole::load(&env, &aws).await?;
    let applied = db::migrate(&config).await?;
    match runtime_role {
        Some(role) => db::ensure_runtime_role(&config, &role).await?,
        None => tracing::info!("no runtime role configured: the functions log in as this user"),
    }
    Ok(applied)
}

/// The `janitor` function, on a schedule: prunes expired rows and retries unsent emails.
pub fn run_janitor() -> Result<(), Error> {
    telemetry::init();
    db::install_crypto_provider();
    runtime()?.block_on(async move {
        let app: &'static App = Box::leak(Box::new(
            build_app(None, async |config, aws| {
                Mailer::new(&config.email, aws).await
            })
            .await?,
        ));
        lambda_runtime::run(lambda_runtime::service_fn(
            move |_: LambdaEvent<serde_json::Value>| async move {
                let report = janitor::sweep(app).await.inspect_err(|e| {
                    let cause = e.cause().map(|c| format!("{c:#}"));
                    tracing::error!(error = e.code(), cause, "sweep failed");
                })?;
                // An idle run says so at debug only: the schedule runs every minute (`make dev`
                // every 5 s), and the log would be mostly empty sweeps.
                if report.is_idle() {
                    tracing::debug!(?report, "sweep done");
                } else {
                    tracing::info!(?report, "sweep done");
                }
                Ok::<_, Error>(report)
            },
        ))
        .await
    })
}

/// The Lambda authorizer of the HTTP API (`functions/authorizer`): verification keys and the
/// database, built once per cold start; every event answered `isAuthorized` true or false, never
/// an error (see [`crate::handlers::authorizer`]).
pub fn run_authorizer() -> Result<(), Error> {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
    telemetry::init();
    db::install_crypto_provider();
    runtime()?.block_on(async move {
        let app: &'static App = Box::leak(Box::new(build_app(None, for_requests).await?));
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
                let answer = handlers::authorizer(app, &event.payload).await;
                tracing::info!(authorized = answer.is_authorized, "authorizer answered");
                Ok::<_, Error>(answer)
            },
        ))
        .await
    })
}

/// One Lambda instance handles one request at a time, so a current-thread runtime is enough and
/// starts faster; Argon2 still runs on the blocking pool, off this thread.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// A request that has not finished by then is answered 503: each statement is bounded by the
/// database's statement timeout, but a request runs several. Below the functions' 10 s Lambda
/// timeout, so the client gets JSON rather than API Gateway's 503; dropping the handler's future
/// rolls back its open transaction.
const REQUEST_DEADLINE: Duration = Duration::from_secs(8);

/// Answers one request on `route`, as its function does in Lambda (the tests and the benchmark
/// call this too, with `Endpoint::X.route()`): checks the method, runs the route's handler within
/// the request deadline, turns errors into JSON responses and logs one line with the outcome.
/// Never fails: a Lambda error would reach the client as an opaque 502.
pub async fn respond<'a>(
    route: Route,
    state: impl Into<State<'a>>,
    request: Request,
) -> Response<Body> {
    let state = state.into();
    let endpoint = route.endpoint;
    let started = Instant::now();
    let method = request.method().clone();
    let over_https = served_over_https(&request);
    // The route, not the raw path: a reset token in the URL must not reach the logs.
    let span = tracing::info_span!("request", function = endpoint.function(), %method, route = endpoint.path());
    let mut response = async move {
        let result = match endpoint.method_name() {
            Some(allowed) if allowed != method.as_str() => {
                Err(ApiError::MethodNotAllowed { allowed })
            }
            _ => tokio::time::timeout(REQUEST_DEADLINE, handle(route, state, request))
                .await
                .unwrap_or_else(|_| {
                    Err(ApiError::ServiceUnavailable(anyhow::anyhow!(
                        "no answer within {REQUEST_DEADLINE:?}"
                    )))
                }),
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(response) => {
                tracing::info!(
                    status = response.status().as_u16(),
                    elapsed_ms,
                    "request handled"
                );
                response
            }
            Err(error) => {
                let status = error.status();
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
                error_response(&error)
            }
        }
    }
    .instrument(span)
    .await;
    if over_https {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        );
    }
    response
}

/// Two years, this host and its subdomains: browsers that once reached the API over HTTPS never
/// try plain HTTP (and its interceptable redirect) again.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

/// Whether the client reached us over HTTPS, as API Gateway says in `X-Forwarded-Proto` (always,
/// in AWS). `cargo lambda watch` serves plain HTTP and says nothing: no HSTS there.
fn served_over_https(request: &Request) -> bool {
    request
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// Runs the route's handler, with the state when it needs it.
async fn handle(route: Route, state: State<'_>, request: Request) -> HandlerResult {
    match (route.handler, state) {
        (Handler::Stateless(handler), _) => handler(request).await,
        (Handler::WithKeys(handler), State::Keys(keys)) => handler(keys, request).await,
        (Handler::WithKeys(handler), State::App(app)) => handler(app.tokens()?, request).await,
        (Handler::WithApp(handler), State::App(app)) => handler(app, request).await,
        (Handler::WithKeys(_) | Handler::WithApp(_), _) => {
            Err(ApiError::Internal(anyhow::anyhow!(
                "{} was started without its state",
                route.endpoint.function()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::keys::tests::{ED25519_A, ED25519_A_PUBLIC};
    use crate::keys::{JwtKeys, PrivateKey, PublicKey};

    fn settings(keys: Option<JwtKeys>) -> JwtSettings {
        JwtSettings {
            keys,
            issuer: "issuer".into(),
            audience: "audience".into(),
            client_id: "client".into(),
            access_token_ttl: Duration::from_secs(900),
        }
    }

    #[test]
    fn signers_need_the_private_key_and_verifiers_the_public_one() {
        let private = || JwtKeys::Asymmetric {
            signing: PrivateKey::from_pem(ED25519_A).unwrap(),
            previous: vec![],
        };
        let public = || JwtKeys::Public {
            current: PublicKey::from_pem(ED25519_A_PUBLIC).unwrap(),
            previous: vec![],
        };
        let cases = [
            (Endpoint::Signin, Some(private()), None),
            (Endpoint::Refresh, Some(public()), Some("JWT_PRIVATE_KEY")),
            (Endpoint::Signin, None, Some("JWT_PRIVATE_KEY")),
            (Endpoint::Dashboard, Some(public()), None),
            (Endpoint::Dashboard, Some(private()), None),
            (Endpoint::Jwks, Some(public()), None),
            (Endpoint::Jwks, None, Some("JWT_PUBLIC_KEY")),
            (Endpoint::Logout, None, Some("JWT_PUBLIC_KEY")),
            (Endpoint::Signup, None, None),
        ];
        for (endpoint, keys, expected) in cases {
            let missing = missing_keys(endpoint, &settings(keys));
            assert_eq!(
                missing.as_ref().map(|e| e.variable.as_str()),
                expected,
                "{endpoint:?}: {missing:?}"
            );
        }
    }
}
