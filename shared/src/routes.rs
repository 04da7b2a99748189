//! The route table and the router: every endpoint's method, path, function name and handler, in
//! one place. Each function's `main` names its endpoint and nothing else; the tests and the
//! benchmark reach the handlers through this same [`handle`], so no binary can be wired to the
//! wrong handler and no test keeps a table of its own.

use lambda_http::Request;
use lambda_http::http::Method;

use crate::error::ApiError;
use crate::handlers::{self, HandlerResult};
use crate::service::App;

/// One Lambda function of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Root,
    Public,
    Signup,
    Signin,
    Refresh,
    Dashboard,
    Logout,
    /// `GET /api/sessions`: the caller's live sessions.
    Sessions,
    /// `DELETE /api/sessions/{id}`: ends one of them.
    EndSession,
    ForgotPassword,
    ResetPassword,
    /// The HTML page behind the emailed reset link.
    ResetPage,
    /// The `$default` route: answers 404 JSON for paths no other route matches.
    NotFound,
    /// The public keys that verify access tokens (a JWK Set).
    Jwks,
}

impl Endpoint {
    /// Every endpoint, in the order of the README's table.
    pub const ALL: [Endpoint; 14] = [
        Endpoint::Signup,
        Endpoint::Signin,
        Endpoint::Refresh,
        Endpoint::Dashboard,
        Endpoint::Logout,
        Endpoint::Sessions,
        Endpoint::EndSession,
        Endpoint::ForgotPassword,
        Endpoint::ResetPassword,
        Endpoint::Public,
        Endpoint::Root,
        Endpoint::ResetPage,
        Endpoint::Jwks,
        Endpoint::NotFound,
    ];

    /// The method served; `None` for the catch-all, which answers every method.
    pub fn method(self) -> Option<Method> {
        self.method_name()
            .map(|name| Method::from_bytes(name.as_bytes()).expect("a standard method"))
    }

    /// [`Self::method`]'s name, as the `Allow` header of a 405 carries it.
    pub fn method_name(self) -> Option<&'static str> {
        use Endpoint::*;
        match self {
            Root | Public | Dashboard | Sessions | ResetPage | Jwks => Some("GET"),
            EndSession => Some("DELETE"),
            Signup | Signin | Refresh | Logout | ForgotPassword | ResetPassword => Some("POST"),
            NotFound => None,
        }
    }

    /// The path, in API Gateway's and cargo-lambda's `{param}` syntax.
    pub fn path(self) -> &'static str {
        use Endpoint::*;
        match self {
            Root => "/",
            Public => "/api/public",
            Signup => "/api/signup",
            Signin => "/api/signin",
            Refresh => "/api/refresh",
            Dashboard => "/api/dashboard",
            Logout => "/api/logout",
            Sessions => "/api/sessions",
            EndSession => "/api/sessions/{id}",
            ForgotPassword => "/api/forgot-password",
            ResetPassword => "/api/reset-password/{token}",
            ResetPage => "/reset-password/{token}",
            NotFound => "/{*proxy}",
            Jwks => "/.well-known/jwks.json",
        }
    }

    /// False for the endpoints that answer without the database or keys (`/`, `/api/public`, the
    /// reset page, the 404 catch-all): their functions build no state at all.
    pub fn needs_app(self) -> bool {
        !matches!(
            self,
            Endpoint::Root | Endpoint::Public | Endpoint::ResetPage | Endpoint::NotFound
        )
    }

    /// True for the endpoints that issue or verify access tokens, or publish the keys that
    /// verify them: only they get the signing keys.
    pub fn signs_tokens(self) -> bool {
        matches!(
            self,
            Endpoint::Signin
                | Endpoint::Refresh
                | Endpoint::Dashboard
                | Endpoint::Logout
                | Endpoint::Sessions
                | Endpoint::EndSession
                | Endpoint::Jwks
        )
    }

    /// The function's name: its crate under `functions/`, its binary, its cargo-lambda route target.
    pub fn function(self) -> &'static str {
        use Endpoint::*;
        match self {
            Root => "root",
            Public => "public",
            Signup => "signup",
            Signin => "signin",
            Refresh => "refresh",
            Dashboard => "dashboard",
            Logout => "logout",
            Sessions => "sessions",
            EndSession => "end-session",
            ForgotPassword => "forgot-password",
            ResetPassword => "reset-password",
            ResetPage => "reset-page",
            NotFound => "not-found",
            Jwks => "jwks",
        }
    }
}

/// The one router: runs `endpoint`'s handler on `request`. `app` is the function's state, `None`
/// for the endpoints that need none ([`Endpoint::needs_app`]).
pub async fn handle(endpoint: Endpoint, app: Option<&App>, request: Request) -> HandlerResult {
    let app = || {
        app.ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "{} was started without its state",
                endpoint.function()
            ))
        })
    };
    match endpoint {
        Endpoint::Root => handlers::root(request).await,
        Endpoint::Public => handlers::public(request).await,
        Endpoint::ResetPage => handlers::reset_page(request).await,
        Endpoint::NotFound => handlers::not_found(request).await,
        Endpoint::Signup => handlers::signup(app()?, request).await,
        Endpoint::Signin => handlers::signin(app()?, request).await,
        Endpoint::Refresh => handlers::refresh(app()?, request).await,
        Endpoint::Dashboard => handlers::dashboard(app()?, request).await,
        Endpoint::Logout => handlers::logout(app()?, request).await,
        Endpoint::Sessions => handlers::sessions(app()?, request).await,
        Endpoint::EndSession => handlers::end_session(app()?, request).await,
        Endpoint::ForgotPassword => handlers::forgot_password(app()?, request).await,
        Endpoint::ResetPassword => handlers::reset_password(app()?, request).await,
        Endpoint::Jwks => handlers::jwks(app()?, request).await,
    }
}
