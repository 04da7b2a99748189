//! The admin API in the benchmark, called with the local `ADMIN_TOKEN` (in AWS, IAM decides
//! before the function runs): the reads, and each action on accounts made for it.

use anyhow::ensure;
use auth::Endpoint;
use lambda_http::http::header::AUTHORIZATION;
use lambda_http::{Body, Request};
use testkit::requests::{from_client, raw_request, with_path_parameter};

use super::{Bench, Plan, Recording, signin_request, signup_request, token};

/// The bench's operator bearer (`ADMIN_TOKEN`, at least 32 bytes).
pub(super) const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef0123456789";

/// What the admin round measures.
pub(super) struct AdminRound {
    pub list_users: Recording,
    pub get_user: Recording,
    pub audit: Recording,
    pub disable: Recording,
    pub enable: Recording,
    pub revoke_sessions: Recording,
    pub reset_mfa: Recording,
    pub delete: Recording,
}

impl Bench {
    /// The reads over the bench's accounts and log so far (`cheap`); then, per round of `each`,
    /// an account disabled and enabled again, its sessions revoked (one opened beforehand), its
    /// TOTP reset (turned on beforehand), and an account of its own deleted.
    pub(super) async fn admin_round(&self, cheap: Plan, each: Plan) -> anyhow::Result<AdminRound> {
        let email = "operated@example.com";
        self.registered(email).await?;
        let id = self.user_id(email).await?;
        let mut round = AdminRound {
            list_users: Recording::new(Endpoint::AdminListUsers, cheap),
            get_user: Recording::new(Endpoint::AdminGetUser, cheap),
            audit: Recording::new(Endpoint::AdminAudit, cheap),
            disable: Recording::new(Endpoint::AdminDisableUser, each),
            enable: Recording::new(Endpoint::AdminEnableUser, each),
            revoke_sessions: Recording::new(Endpoint::AdminRevokeSessions, each),
            reset_mfa: Recording::new(Endpoint::AdminResetMfa, each),
            delete: Recording::new(Endpoint::AdminDeleteUser, each),
        };
        for _ in 0..cheap.total() {
            let users = self
                .call(&mut round.list_users, admin(Endpoint::AdminListUsers, None))
                .await?;
            ensure!(users["users"].is_array(), "users: {users}");
            let user = self
                .call(
                    &mut round.get_user,
                    admin(Endpoint::AdminGetUser, Some(&id)),
                )
                .await?;
            ensure!(user["email"] == email, "user: {user}");
            let events = self
                .call(&mut round.audit, admin(Endpoint::AdminAudit, None))
                .await?;
            ensure!(events["events"].is_array(), "audit: {events}");
        }
        let mut setup_signin = Recording::setup(Endpoint::Signin);

        let mut setup_signup = Recording::setup(Endpoint::Signup);
        for i in 0..each.total() {
            let disabled = self
                .call(
                    &mut round.disable,
                    admin(Endpoint::AdminDisableUser, Some(&id)),
                )
                .await?;
            ensure!(disabled["disabled"] == true, "disable: {disabled}");
            self.call(
                &mut round.enable,
                admin(Endpoint::AdminEnableUser, Some(&id)),
            )
            .await?;

            self.call(&mut setup_signin, signin_request(email)).await?;
            let ended = self
                .call(
                    &mut round.revoke_sessions,
                    admin(Endpoint::AdminRevokeSessions, Some(&id)),
                )
                .await?;
            ensure!(ended["sessions_ended"] == 1, "revoke: {ended}");

            let access = token(
                &self.call(&mut setup_signin, signin_request(email)).await?,
                "access_token",
            )?;
            self.turn_totp_on(
                &access,
                &mut Recording::setup(Endpoint::MfaEnroll),
                &mut Recording::setup(Endpoint::MfaConfirm),
            )
            .await?;
            let reset = self
                .call(
                    &mut round.reset_mfa,
                    admin(Endpoint::AdminResetMfa, Some(&id)),
                )
                .await?;
            ensure!(reset["totp_was_enabled"] == true, "reset: {reset}");

            let leaving = format!("removed-{i}@example.com");
            self.call(&mut setup_signup, signup_request(&leaving))
                .await?;
            let leaving_id = self.user_id(&leaving).await?;
            self.call(
                &mut round.delete,
                admin(Endpoint::AdminDeleteUser, Some(&leaving_id)),
            )
            .await?;
        }
        Ok(round)
    }
}

/// A request to an admin route as the local operator, `{id}` filled in where the route has it.
fn admin(endpoint: Endpoint, id: Option<&str>) -> Request {
    let method = endpoint.method().expect("an admin route has a method");
    let mut request = raw_request(method, endpoint.path(), None, Body::Empty);
    if let Some(id) = id {
        request = with_path_parameter(request, "id", id);
    }
    request.headers_mut().insert(
        AUTHORIZATION,
        format!("Bearer {ADMIN_TOKEN}")
            .parse()
            .expect("a header-safe token"),
    );
    from_client(request, "198.51.100.7", "bench/1.0")
}
