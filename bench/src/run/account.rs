//! Account self-service in the benchmark: a confirmation resent, the password and the address
//! changed, sessions ended one by one, accounts deleted — and the functions that need no
//! database (pages, keys, the catch-all, the example behind the authorizer).

use anyhow::ensure;
use auth::Endpoint;
use lambda_http::http::Method;
use serde_json::json;
use testkit::requests::{from_client, raw_request, with_path_parameter};

use super::{
    Bench, PASSWORD, Plan, Recording, authorizer_event, bearer, json_request, signin_request,
    signup_request, with_bearer,
};

impl Bench {
    /// Each resend for the same account, its address still unconfirmed (the bench's settings
    /// let it ask as often as it likes).
    pub(super) async fn resend_verification(&self, plan: Plan) -> anyhow::Result<Recording> {
        let email = "unconfirmed@example.com";
        let mut setup = Recording::setup(Endpoint::Signup);
        self.call(&mut setup, signup_request(email)).await?;
        let mut recording = Recording::new(Endpoint::ResendVerification, plan);
        let body = json!({ "email": email });
        for _ in 0..plan.total() {
            let request = json_request(Endpoint::ResendVerification, &body);
            self.call(&mut recording, request).await?;
        }
        Ok(recording)
    }

    /// Each change gives the password the previous one set; the caller's session lives on.
    pub(super) async fn change_password(&self, plan: Plan) -> anyhow::Result<Recording> {
        let (access, _) = self.signed_in("changer@example.com").await?;
        let mut current = PASSWORD.to_owned();
        let mut recording = Recording::new(Endpoint::ChangePassword, plan);
        for i in 0..plan.total() {
            let new = format!("{PASSWORD} {i}");
            let body = json!({"current_password": current, "new_password": new});
            let request = with_bearer(json_request(Endpoint::ChangePassword, &body), &access);
            self.call(&mut recording, request).await?;
            current = new;
        }
        Ok(recording)
    }

    /// Each change asks for a new address of its own (the confirmation goes there; the account
    /// keeps its address until then).
    pub(super) async fn change_email(&self, plan: Plan) -> anyhow::Result<Recording> {
        let (access, _) = self.signed_in("mover@example.com").await?;
        let mut recording = Recording::new(Endpoint::ChangeEmail, plan);
        for i in 0..plan.total() {
            let body = json!({"password": PASSWORD, "new_email": format!("moved-{i}@example.com")});
            let request = with_bearer(json_request(Endpoint::ChangeEmail, &body), &access);
            self.call(&mut recording, request).await?;
        }
        Ok(recording)
    }

    /// Each deletion is of an account of its own, registered and signed in beforehand.
    pub(super) async fn delete_account(&self, plan: Plan) -> anyhow::Result<Recording> {
        let mut recording = Recording::new(Endpoint::DeleteAccount, plan);
        for i in 0..plan.total() {
            let (access, _) = self.signed_in(&format!("leaving-{i}@example.com")).await?;
            let body = json!({ "password": PASSWORD });
            let request = with_bearer(json_request(Endpoint::DeleteAccount, &body), &access);
            self.call(&mut recording, request).await?;
        }
        Ok(recording)
    }

    /// One session ends each of the account's other sessions, opened beforehand.
    pub(super) async fn end_session(&self, plan: Plan) -> anyhow::Result<Recording> {
        let email = "many-devices@example.com";
        let (access, _) = self.signed_in(email).await?;
        let mut setup = Recording::setup(Endpoint::Signin);
        for _ in 0..plan.total() {
            self.call(&mut setup, signin_request(email)).await?;
        }
        let mut setup = Recording::setup(Endpoint::Sessions);
        let listed = self
            .call(&mut setup, bearer(Endpoint::Sessions, &access))
            .await?;
        let others: Vec<String> = listed["sessions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|session| session["current"] != true)
            .filter_map(|session| session["id"].as_str().map(str::to_owned))
            .collect();
        ensure!(others.len() == plan.total(), "sessions: {listed}");
        let mut recording = Recording::new(Endpoint::EndSession, plan);
        for id in others {
            let request = with_path_parameter(bearer(Endpoint::EndSession, &access), "id", &id);
            self.call(&mut recording, request).await?;
        }
        Ok(recording)
    }

    /// `GET /api/protected-example` with the context the authorizer passes on for a live token.
    pub(super) async fn protected_example(
        &self,
        access_token: &str,
        plan: Plan,
    ) -> anyhow::Result<Recording> {
        use lambda_http::RequestExt;
        use lambda_http::aws_lambda_events::apigw::{
            ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext,
        };
        use lambda_http::request::RequestContext;

        let event = authorizer_event(access_token)?;
        let answer = serde_json::to_value(auth::handlers::authorizer(&self.app, &event).await)?;
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.fields = serde_json::from_value(answer["context"].clone())?;
        let mut recording = Recording::new(Endpoint::ProtectedExample, plan);
        for _ in 0..plan.total() {
            let mut context = ApiGatewayV2httpRequestContext::default();
            context.authorizer = Some(authorizer.clone());
            let request = raw_request(Method::GET, Endpoint::ProtectedExample.path(), None, "")
                .with_request_context(RequestContext::ApiGatewayV2(context));
            let body = self.call(&mut recording, request).await?;
            ensure!(body["authorizer"]["sub"].is_string(), "protected: {body}");
        }
        Ok(recording)
    }

    /// A function that answers without its state or with the keys alone: a page, the JWK Set,
    /// the catch-all's 404 (the one measured answer that is no 2xx: it is that function's only
    /// answer).
    pub(super) async fn stateless(
        &self,
        endpoint: Endpoint,
        plan: Plan,
    ) -> anyhow::Result<Recording> {
        let mut recording = Recording::new(endpoint, plan);
        let path = match endpoint {
            Endpoint::NotFound => "/api/no-such-thing",
            _ => endpoint.path(),
        };
        for _ in 0..plan.total() {
            let request = from_client(
                raw_request(Method::GET, path, None, ""),
                "198.51.100.7",
                "bench/1.0",
            );
            if endpoint == Endpoint::NotFound {
                let response = self
                    .timed(&mut recording, super::call(&self.app, endpoint, request))
                    .await?;
                ensure!(response.status() == 404, "not-found: {}", response.status());
            } else {
                self.call(&mut recording, request).await?;
            }
        }
        Ok(recording)
    }
}
