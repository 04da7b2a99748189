//! The route table: every endpoint's method, path and function name, in one place.

use lambda_http::http::Method;

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
        use Endpoint::*;
        match self {
            Root | Public | Dashboard | Sessions | ResetPage | Jwks => Some(Method::GET),
            EndSession => Some(Method::DELETE),
            Signup | Signin | Refresh | Logout | ForgotPassword | ResetPassword => {
                Some(Method::POST)
            }
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
