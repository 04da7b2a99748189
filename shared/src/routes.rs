//! The route table and the router: every endpoint's method, path, function name and handler, in
//! one place. Each function's `main` names its endpoint's [`Route`] and nothing else; the tests
//! and the benchmark reach the handlers through the same routes, so no binary can be wired to
//! the wrong handler and no test keeps a table of its own.

use std::future::Future;
use std::pin::Pin;

use lambda_http::Request;
use lambda_http::http::Method;

use crate::handlers::{self, HandlerResult};
use crate::service::App;
use crate::tokens::AccessTokenSigner;

/// A handler's answer, boxed so that every handler has one type.
pub type Handling<'a> = Pin<Box<dyn Future<Output = HandlerResult> + Send + 'a>>;

/// How an endpoint's requests are answered: its handler, with the function's state or without.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Needs no state: the function builds none (no configuration, pool or keys).
    Stateless(fn(Request) -> Handling<'static>),
    /// Needs the keys that verify access tokens and nothing else: no database, no secret.
    WithKeys(for<'a> fn(&'a AccessTokenSigner, Request) -> Handling<'a>),
    /// Needs the function's [`App`].
    WithApp(for<'a> fn(&'a App, Request) -> Handling<'a>),
}

/// An endpoint and its handler: what one function serves.
#[derive(Clone, Copy)]
pub struct Route {
    pub endpoint: Endpoint,
    pub handler: Handler,
}

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
    /// `POST /api/verify-email`: confirms an address with the emailed link's token or code.
    VerifyEmail,
    /// `POST /api/resend-verification`: a new confirmation email.
    ResendVerification,
    /// The HTML page behind the emailed confirmation link.
    VerifyPage,
    /// `POST /api/change-password`.
    ChangePassword,
    /// `POST /api/change-email`: a confirmation to the new address.
    ChangeEmail,
    /// `DELETE /api/account`.
    DeleteAccount,
    /// `POST /api/mfa/totp/enroll`: a new TOTP secret, pending until confirmed.
    MfaEnroll,
    /// `POST /api/mfa/totp/confirm`: TOTP on, with recovery codes.
    MfaConfirm,
    /// `POST /api/mfa/verify`: a sign-in's second step.
    MfaVerify,
    /// `DELETE /api/mfa/totp`: TOTP off.
    MfaDisable,
    /// `POST /api/mfa/recovery-codes`: a new set.
    MfaRecoveryCodes,
    /// `GET /api/mfa`: the factors the account has on.
    MfaStatus,
    /// `POST /api/passkeys/register/start`: the options to create a passkey with.
    PasskeyRegisterStart,
    /// `POST /api/passkeys/register/finish`: the created passkey, kept.
    PasskeyRegisterFinish,
    /// `GET /api/passkeys`: the caller's passkeys.
    Passkeys,
    /// `DELETE /api/passkeys/{id}`: removes one of them.
    DeletePasskey,
    /// `POST /api/passkeys/signin/start`: the options of a usernameless sign-in.
    PasskeySigninStart,
    /// `POST /api/passkeys/signin/finish`: signed in with a passkey, at `aal2`.
    PasskeySigninFinish,
    /// `GET /api/oauth/{provider}/authorize`: a 302 to the provider, the flow kept.
    OauthAuthorize,
    /// `GET /api/oauth/{provider}/callback`: a 302 back to the app, with its one-time code.
    OauthCallback,
    /// `POST /api/oauth/{provider}/callback`: the callback as a provider's form post.
    OauthCallbackForm,
    /// `POST /api/oauth/token`: the one-time code and the app's verifier, for a sign-in.
    OauthToken,
    /// `GET /api/identities`: the providers' identities linked to the caller's account.
    Identities,
    /// `DELETE /api/identities/{id}`: unlinks one of them.
    DeleteIdentity,
    /// `GET /api/protected-example`: behind the Lambda authorizer, the context it passed on.
    ProtectedExample,
    /// `POST /api/introspect`: RFC 7662 token introspection for the APIs behind us.
    Introspect,
    /// `GET /admin/users`: a page of accounts (operators only: IAM in AWS, `ADMIN_TOKEN` locally).
    AdminListUsers,
    /// `GET /admin/users/{id}`: an account, its factors, identities and live sessions.
    AdminGetUser,
    /// `POST /admin/users/{id}/disable`: sessions end, sign-in refused.
    AdminDisableUser,
    /// `POST /admin/users/{id}/enable`.
    AdminEnableUser,
    /// `POST /admin/users/{id}/sessions/revoke`: every session ends.
    AdminRevokeSessions,
    /// `DELETE /admin/users/{id}`.
    AdminDeleteUser,
    /// `POST /admin/users/{id}/mfa/reset`: TOTP off, recovery codes deleted, the owner emailed.
    AdminResetMfa,
    /// `GET /admin/audit`: a page of the audit log.
    AdminAudit,
    /// The HTML sign-in page.
    SigninPage,
    /// The HTML sign-up page.
    SignupPage,
    /// The HTML account page.
    AccountPage,
}

impl Endpoint {
    /// Every endpoint, in the order of the README's table.
    pub const ALL: [Endpoint; 51] = [
        Endpoint::Signup,
        Endpoint::VerifyEmail,
        Endpoint::ResendVerification,
        Endpoint::Signin,
        Endpoint::MfaVerify,
        Endpoint::PasskeySigninStart,
        Endpoint::PasskeySigninFinish,
        Endpoint::OauthAuthorize,
        Endpoint::OauthCallback,
        Endpoint::OauthCallbackForm,
        Endpoint::OauthToken,
        Endpoint::Refresh,
        Endpoint::Dashboard,
        Endpoint::Logout,
        Endpoint::Sessions,
        Endpoint::EndSession,
        Endpoint::ChangePassword,
        Endpoint::ChangeEmail,
        Endpoint::DeleteAccount,
        Endpoint::MfaStatus,
        Endpoint::MfaEnroll,
        Endpoint::MfaConfirm,
        Endpoint::MfaDisable,
        Endpoint::MfaRecoveryCodes,
        Endpoint::Passkeys,
        Endpoint::PasskeyRegisterStart,
        Endpoint::PasskeyRegisterFinish,
        Endpoint::DeletePasskey,
        Endpoint::Identities,
        Endpoint::DeleteIdentity,
        Endpoint::ForgotPassword,
        Endpoint::ResetPassword,
        Endpoint::Public,
        Endpoint::ProtectedExample,
        Endpoint::Introspect,
        Endpoint::AdminListUsers,
        Endpoint::AdminGetUser,
        Endpoint::AdminDisableUser,
        Endpoint::AdminEnableUser,
        Endpoint::AdminRevokeSessions,
        Endpoint::AdminDeleteUser,
        Endpoint::AdminResetMfa,
        Endpoint::AdminAudit,
        Endpoint::Root,
        Endpoint::ResetPage,
        Endpoint::VerifyPage,
        Endpoint::SigninPage,
        Endpoint::SignupPage,
        Endpoint::AccountPage,
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
            Root | Public | ProtectedExample | Dashboard | Sessions | ResetPage | VerifyPage
            | SigninPage | SignupPage | AccountPage | Jwks | MfaStatus | Passkeys
            | OauthAuthorize | OauthCallback | Identities | AdminListUsers | AdminGetUser
            | AdminAudit => Some("GET"),
            EndSession | DeleteAccount | MfaDisable | DeletePasskey | DeleteIdentity
            | AdminDeleteUser => Some("DELETE"),
            Signup
            | Signin
            | Refresh
            | Logout
            | ForgotPassword
            | ResetPassword
            | VerifyEmail
            | ResendVerification
            | ChangePassword
            | ChangeEmail
            | MfaEnroll
            | MfaConfirm
            | MfaVerify
            | MfaRecoveryCodes
            | PasskeyRegisterStart
            | PasskeyRegisterFinish
            | PasskeySigninStart
            | PasskeySigninFinish
            | OauthToken
            | OauthCallbackForm
            | Introspect
            | AdminDisableUser
            | AdminEnableUser
            | AdminRevokeSessions
            | AdminResetMfa => Some("POST"),
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
            ResetPage => "/reset-password",
            NotFound => "/{*proxy}",
            Jwks => "/.well-known/jwks.json",
            VerifyEmail => "/api/verify-email",
            ResendVerification => "/api/resend-verification",
            VerifyPage => "/verify-email",
            ChangePassword => "/api/change-password",
            ChangeEmail => "/api/change-email",
            DeleteAccount => "/api/account",
            MfaEnroll => "/api/mfa/totp/enroll",
            MfaConfirm => "/api/mfa/totp/confirm",
            MfaVerify => "/api/mfa/verify",
            MfaDisable => "/api/mfa/totp",
            MfaRecoveryCodes => "/api/mfa/recovery-codes",
            MfaStatus => "/api/mfa",
            PasskeyRegisterStart => "/api/passkeys/register/start",
            PasskeyRegisterFinish => "/api/passkeys/register/finish",
            Passkeys => "/api/passkeys",
            DeletePasskey => "/api/passkeys/{id}",
            PasskeySigninStart => "/api/passkeys/signin/start",
            PasskeySigninFinish => "/api/passkeys/signin/finish",
            OauthAuthorize => "/api/oauth/{provider}/authorize",
            OauthCallback | OauthCallbackForm => "/api/oauth/{provider}/callback",
            OauthToken => "/api/oauth/token",
            Identities => "/api/identities",
            DeleteIdentity => "/api/identities/{id}",
            ProtectedExample => "/api/protected-example",
            Introspect => "/api/introspect",
            AdminListUsers => "/admin/users",
            AdminGetUser | AdminDeleteUser => "/admin/users/{id}",
            AdminDisableUser => "/admin/users/{id}/disable",
            AdminEnableUser => "/admin/users/{id}/enable",
            AdminRevokeSessions => "/admin/users/{id}/sessions/revoke",
            AdminResetMfa => "/admin/users/{id}/mfa/reset",
            AdminAudit => "/admin/audit",
            SigninPage => "/signin",
            SignupPage => "/signup",
            AccountPage => "/account",
        }
    }

    /// The endpoint's route: the one router. `const`, so that each function's `main` picks its
    /// route when it is compiled and links its own handler only (and, for a stateless one, no
    /// database, keys or AWS code at all).
    pub const fn route(self) -> Route {
        use Endpoint::*;
        let handler = match self {
            Root => Handler::Stateless(|request| Box::pin(handlers::root(request))),
            Public => Handler::Stateless(|request| Box::pin(handlers::public(request))),
            ProtectedExample => {
                Handler::Stateless(|request| Box::pin(handlers::protected_example(request)))
            }
            ResetPage => Handler::Stateless(|request| Box::pin(handlers::reset_page(request))),
            NotFound => Handler::Stateless(|request| Box::pin(handlers::not_found(request))),
            VerifyPage => Handler::Stateless(|request| Box::pin(handlers::verify_page(request))),
            SigninPage => Handler::Stateless(|request| Box::pin(handlers::signin_page(request))),
            SignupPage => Handler::Stateless(|request| Box::pin(handlers::signup_page(request))),
            AccountPage => Handler::Stateless(|request| Box::pin(handlers::account_page(request))),
            Signup => Handler::WithApp(|app, request| Box::pin(handlers::signup(app, request))),
            Signin => Handler::WithApp(|app, request| Box::pin(handlers::signin(app, request))),
            Refresh => Handler::WithApp(|app, request| Box::pin(handlers::refresh(app, request))),
            Dashboard => {
                Handler::WithApp(|app, request| Box::pin(handlers::dashboard(app, request)))
            }
            Logout => Handler::WithApp(|app, request| Box::pin(handlers::logout(app, request))),
            Sessions => Handler::WithApp(|app, request| Box::pin(handlers::sessions(app, request))),
            EndSession => {
                Handler::WithApp(|app, request| Box::pin(handlers::end_session(app, request)))
            }
            ForgotPassword => {
                Handler::WithApp(|app, request| Box::pin(handlers::forgot_password(app, request)))
            }
            ResetPassword => {
                Handler::WithApp(|app, request| Box::pin(handlers::reset_password(app, request)))
            }
            Jwks => Handler::WithKeys(|keys, request| Box::pin(handlers::jwks(keys, request))),
            VerifyEmail => {
                Handler::WithApp(|app, request| Box::pin(handlers::verify_email(app, request)))
            }
            ResendVerification => Handler::WithApp(|app, request| {
                Box::pin(handlers::resend_verification(app, request))
            }),
            ChangePassword => {
                Handler::WithApp(|app, request| Box::pin(handlers::change_password(app, request)))
            }
            ChangeEmail => {
                Handler::WithApp(|app, request| Box::pin(handlers::change_email(app, request)))
            }
            DeleteAccount => {
                Handler::WithApp(|app, request| Box::pin(handlers::delete_account(app, request)))
            }
            MfaEnroll => {
                Handler::WithApp(|app, request| Box::pin(handlers::mfa_enroll(app, request)))
            }
            MfaConfirm => {
                Handler::WithApp(|app, request| Box::pin(handlers::mfa_confirm(app, request)))
            }
            MfaVerify => {
                Handler::WithApp(|app, request| Box::pin(handlers::mfa_verify(app, request)))
            }
            MfaDisable => {
                Handler::WithApp(|app, request| Box::pin(handlers::mfa_disable(app, request)))
            }
            MfaRecoveryCodes => Handler::WithApp(|app, request| {
                Box::pin(handlers::mfa_recovery_codes(app, request))
            }),
            MfaStatus => {
                Handler::WithApp(|app, request| Box::pin(handlers::mfa_status(app, request)))
            }
            PasskeyRegisterStart => Handler::WithApp(|app, request| {
                Box::pin(handlers::passkey_register_start(app, request))
            }),
            PasskeyRegisterFinish => Handler::WithApp(|app, request| {
                Box::pin(handlers::passkey_register_finish(app, request))
            }),
            Passkeys => Handler::WithApp(|app, request| Box::pin(handlers::passkeys(app, request))),
            DeletePasskey => {
                Handler::WithApp(|app, request| Box::pin(handlers::delete_passkey(app, request)))
            }
            PasskeySigninStart => Handler::WithApp(|app, request| {
                Box::pin(handlers::passkey_signin_start(app, request))
            }),
            PasskeySigninFinish => Handler::WithApp(|app, request| {
                Box::pin(handlers::passkey_signin_finish(app, request))
            }),
            OauthAuthorize => {
                Handler::WithApp(|app, request| Box::pin(handlers::oauth_authorize(app, request)))
            }
            OauthCallback => {
                Handler::WithApp(|app, request| Box::pin(handlers::oauth_callback(app, request)))
            }
            OauthCallbackForm => Handler::WithApp(|app, request| {
                Box::pin(handlers::oauth_callback_form(app, request))
            }),
            OauthToken => {
                Handler::WithApp(|app, request| Box::pin(handlers::oauth_token(app, request)))
            }
            Introspect => {
                Handler::WithApp(|app, request| Box::pin(handlers::introspect(app, request)))
            }
            Identities => {
                Handler::WithApp(|app, request| Box::pin(handlers::identities(app, request)))
            }
            DeleteIdentity => {
                Handler::WithApp(|app, request| Box::pin(handlers::delete_identity(app, request)))
            }
            AdminListUsers => {
                Handler::WithApp(|app, request| Box::pin(handlers::admin_list_users(app, request)))
            }
            AdminGetUser => {
                Handler::WithApp(|app, request| Box::pin(handlers::admin_get_user(app, request)))
            }
            AdminDisableUser => Handler::WithApp(|app, request| {
                Box::pin(handlers::admin_disable_user(app, request))
            }),
            AdminEnableUser => {
                Handler::WithApp(|app, request| Box::pin(handlers::admin_enable_user(app, request)))
            }
            AdminRevokeSessions => Handler::WithApp(|app, request| {
                Box::pin(handlers::admin_revoke_sessions(app, request))
            }),
            AdminDeleteUser => {
                Handler::WithApp(|app, request| Box::pin(handlers::admin_delete_user(app, request)))
            }
            AdminResetMfa => {
                Handler::WithApp(|app, request| Box::pin(handlers::admin_reset_mfa(app, request)))
            }
            AdminAudit => {
                Handler::WithApp(|app, request| Box::pin(handlers::admin_audit(app, request)))
            }
        };
        Route {
            endpoint: self,
            handler,
        }
    }

    /// False for the endpoints that answer without the database (`/`, `/api/public`, the pages,
    /// the 404 catch-all, the JWKS): their functions build no pool and read no database secret.
    pub fn needs_app(self) -> bool {
        matches!(self.route().handler, Handler::WithApp(_))
    }

    /// True for the endpoints that sign access tokens: only their functions read the private key.
    pub fn issues_tokens(self) -> bool {
        matches!(
            self,
            Endpoint::Signin
                | Endpoint::Refresh
                | Endpoint::MfaConfirm
                | Endpoint::MfaVerify
                | Endpoint::PasskeySigninFinish
                | Endpoint::OauthToken
        )
    }

    /// True for the endpoints that verify access tokens, or publish the keys that verify them:
    /// their functions get the public keys only (`JWT_PUBLIC_KEY`), never the private key.
    pub fn verifies_tokens(self) -> bool {
        matches!(
            self,
            Endpoint::Dashboard
                | Endpoint::Logout
                | Endpoint::Sessions
                | Endpoint::EndSession
                | Endpoint::Jwks
                | Endpoint::ChangePassword
                | Endpoint::ChangeEmail
                | Endpoint::DeleteAccount
                | Endpoint::MfaEnroll
                | Endpoint::MfaDisable
                | Endpoint::MfaRecoveryCodes
                | Endpoint::MfaStatus
                | Endpoint::PasskeyRegisterStart
                | Endpoint::PasskeyRegisterFinish
                | Endpoint::Passkeys
                | Endpoint::DeletePasskey
                | Endpoint::Identities
                | Endpoint::DeleteIdentity
                | Endpoint::Introspect
        )
    }

    /// True for the endpoints that seal, open or hash second factors: only they get
    /// `MFA_ENCRYPTION_KEY`.
    pub fn uses_mfa_key(self) -> bool {
        matches!(
            self,
            Endpoint::MfaEnroll
                | Endpoint::MfaConfirm
                | Endpoint::MfaVerify
                | Endpoint::MfaDisable
                | Endpoint::MfaRecoveryCodes
        )
    }

    /// True for the endpoints that run WebAuthn ceremonies: only they get the relying party's
    /// `WEBAUTHN_*` settings, and they refuse to start in AWS without an RP id.
    pub fn uses_webauthn(self) -> bool {
        matches!(
            self,
            Endpoint::PasskeyRegisterStart
                | Endpoint::PasskeyRegisterFinish
                | Endpoint::PasskeySigninStart
                | Endpoint::PasskeySigninFinish
        )
    }

    /// True for the endpoints that talk to OpenID Connect providers: only they get the `OIDC_*`
    /// settings (the client secrets among them), `OAUTH_REDIRECT_ALLOWLIST` and `API_PUBLIC_URL`,
    /// and only they need outbound HTTPS.
    pub fn uses_oidc(self) -> bool {
        matches!(
            self,
            Endpoint::OauthAuthorize | Endpoint::OauthCallback | Endpoint::OauthCallbackForm
        )
    }

    /// True for the endpoints that run Argon2id on a password (hash or verify) on every request
    /// they serve in full: the template gives their functions one full vCPU (1,769 MB), since below
    /// one vCPU a sign-in's GB-seconds do not depend on the memory and its latency does.
    pub fn hashes_passwords(self) -> bool {
        matches!(
            self,
            Endpoint::Signup
                | Endpoint::Signin
                | Endpoint::ResetPassword
                | Endpoint::ChangePassword
                | Endpoint::ChangeEmail
                | Endpoint::DeleteAccount
        )
    }

    /// True for the admin API's endpoints: IAM-authorized in AWS (`ADMIN_TOKEN` locally).
    pub fn is_admin(self) -> bool {
        self.path().starts_with("/admin/")
    }

    /// True for the endpoints that make or check the codes of confirmation emails: only they get
    /// the key the codes are stored under.
    pub fn uses_code_key(self) -> bool {
        matches!(
            self,
            Endpoint::Signup
                | Endpoint::VerifyEmail
                | Endpoint::ResendVerification
                | Endpoint::ChangeEmail
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
            VerifyEmail => "verify-email",
            ResendVerification => "resend-verification",
            VerifyPage => "verify-page",
            ChangePassword => "change-password",
            ChangeEmail => "change-email",
            DeleteAccount => "delete-account",
            MfaEnroll => "mfa-totp-enroll",
            MfaConfirm => "mfa-totp-confirm",
            MfaVerify => "mfa-verify",
            MfaDisable => "mfa-totp-disable",
            MfaRecoveryCodes => "mfa-recovery-codes",
            MfaStatus => "mfa-status",
            PasskeyRegisterStart => "passkey-register-start",
            PasskeyRegisterFinish => "passkey-register-finish",
            Passkeys => "passkeys",
            DeletePasskey => "delete-passkey",
            PasskeySigninStart => "passkey-signin-start",
            PasskeySigninFinish => "passkey-signin-finish",
            ProtectedExample => "protected-example",
            Introspect => "introspect",
            SigninPage => "signin-page",
            SignupPage => "signup-page",
            AccountPage => "account-page",
            OauthAuthorize => "oauth-authorize",
            OauthCallback => "oauth-callback",
            OauthCallbackForm => "oauth-callback-form",
            OauthToken => "oauth-token",
            Identities => "identities",
            DeleteIdentity => "delete-identity",
            AdminListUsers => "admin-list-users",
            AdminGetUser => "admin-get-user",
            AdminDisableUser => "admin-disable-user",
            AdminEnableUser => "admin-enable-user",
            AdminRevokeSessions => "admin-revoke-sessions",
            AdminDeleteUser => "admin-delete-user",
            AdminResetMfa => "admin-reset-mfa",
            AdminAudit => "admin-audit",
        }
    }
}
