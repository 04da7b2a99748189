//! The AWS SAM template (`template.yaml`) kept in step with the route table and the crates: every
//! endpoint of `Endpoint::ALL` is routed, with its exact method and path, to its own function
//! built from its own crate, and secrets, email and the VPC are granted only where they are needed;
//! the admin routes alone are IAM-authorized, and the template never sets `ADMIN_TOKEN`.
//! `local/check-template.sh` lints the same file with cfn-lint and `sam validate --lint`, and runs
//! the SAM transform to look for circular dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use auth::Endpoint;
use serde_yaml_ng::Value;

const WORKSPACE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Functions that use no database, key, secret or VPC (also what `Endpoint::needs_app` and the
/// route table say, checked below).
const STATELESS: [&str; 9] = [
    "root",
    "public",
    "protected-example",
    "reset-page",
    "verify-page",
    "signin-page",
    "signup-page",
    "account-page",
    "not-found",
];
/// Functions that sign access tokens, and so read the private key (`Endpoint::issues_tokens`).
const SIGNERS: [&str; 6] = [
    "signin",
    "refresh",
    "mfa-totp-confirm",
    "mfa-verify",
    "passkey-signin-finish",
    "oauth-token",
];
/// Signers that also verify the bearer's access token (confirming TOTP raises the caller's own
/// session): the private key, and the previous public keys.
const BEARER_SIGNERS: [&str; 1] = ["mfa-totp-confirm"];
/// Functions that verify access tokens or publish the keys that do: the public keys only, from
/// the migrations resource (`Endpoint::verifies_tokens`).
const VERIFIERS: [&str; 19] = [
    "dashboard",
    "logout",
    "sessions",
    "end-session",
    "jwks",
    "change-password",
    "change-email",
    "delete-account",
    "mfa-status",
    "mfa-totp-enroll",
    "mfa-totp-disable",
    "mfa-recovery-codes",
    "passkeys",
    "passkey-register-start",
    "passkey-register-finish",
    "delete-passkey",
    "identities",
    "delete-identity",
    "introspect",
];
/// Each function's access, as its code needs it: the secrets it may read (by the template's
/// names; `MasterUserSecret` is the RDS-managed master secret, `DatabaseRuntimeSecret` the
/// functions' own login), whether it sits in the VPC (it talks to the database through the
/// proxy), and the other actions its policies allow. Every function of the template is here.
const ACCESS: &[(&str, &[&str], bool, &[&str])] = &[
    ("root", &[], false, &[]),
    ("public", &[], false, &[]),
    ("reset-page", &[], false, &[]),
    ("signin-page", &[], false, &[]),
    ("signup-page", &[], false, &[]),
    ("account-page", &[], false, &[]),
    ("verify-page", &[], false, &[]),
    ("not-found", &[], false, &[]),
    // The public keys come in the environment: no secret, no database, no VPC.
    ("jwks", &[], false, &[]),
    ("signup", &[RUNTIME, CODE_KEY], true, &[]),
    ("verify-email", &[RUNTIME, CODE_KEY], true, &[]),
    ("resend-verification", &[RUNTIME, CODE_KEY], true, &[]),
    ("signin", &[RUNTIME, SIGNING_KEY], true, &[]),
    ("refresh", &[RUNTIME, SIGNING_KEY], true, &[]),
    ("dashboard", &[RUNTIME], true, &[]),
    ("logout", &[RUNTIME], true, &[]),
    ("sessions", &[RUNTIME], true, &[]),
    ("end-session", &[RUNTIME], true, &[]),
    ("change-password", &[RUNTIME], true, &[]),
    ("change-email", &[RUNTIME, CODE_KEY], true, &[]),
    ("delete-account", &[RUNTIME], true, &[]),
    ("forgot-password", &[RUNTIME], true, &[]),
    ("reset-password", &[RUNTIME], true, &[]),
    ("mfa-status", &[RUNTIME], true, &[]),
    ("mfa-totp-enroll", &[RUNTIME, MFA_KEY], true, &[]),
    (
        "mfa-totp-confirm",
        &[RUNTIME, SIGNING_KEY, MFA_KEY],
        true,
        &[],
    ),
    ("mfa-verify", &[RUNTIME, SIGNING_KEY, MFA_KEY], true, &[]),
    ("mfa-totp-disable", &[RUNTIME, MFA_KEY], true, &[]),
    ("mfa-recovery-codes", &[RUNTIME, MFA_KEY], true, &[]),
    ("passkeys", &[RUNTIME], true, &[]),
    ("passkey-register-start", &[RUNTIME], true, &[]),
    ("passkey-register-finish", &[RUNTIME], true, &[]),
    ("delete-passkey", &[RUNTIME], true, &[]),
    ("passkey-signin-start", &[RUNTIME], true, &[]),
    ("passkey-signin-finish", &[RUNTIME, SIGNING_KEY], true, &[]),
    // Besides, the providers' client secrets: GetSecretValue on the ARNs of the
    // OidcClientSecretArns parameter, only when it is set (checked by
    // only_the_provider_functions_reach_the_internet_and_only_with_a_provider).
    ("oauth-authorize", &[RUNTIME], true, &[]),
    ("oauth-callback", &[RUNTIME], true, &[]),
    ("oauth-callback-form", &[RUNTIME], true, &[]),
    ("oauth-token", &[RUNTIME, SIGNING_KEY], true, &[]),
    ("identities", &[RUNTIME], true, &[]),
    ("delete-identity", &[RUNTIME], true, &[]),
    ("janitor", &[RUNTIME], true, &["ses:SendEmail"]),
    // Verifies tokens (public keys in the environment) and checks them live in the database.
    ("authorizer", &[RUNTIME], true, &[]),
    // Besides, the introspection clients' secret, only when IntrospectionClientsSecretArn is set
    // (checked by the_introspection_clients_secret_is_read_by_introspect_alone).
    ("introspect", &[RUNTIME], true, &[]),
    // Behind the authorizer: it checked everything; the function reads its context.
    ("protected-example", &[], false, &[]),
    // The admin API: API Gateway checked the IAM caller; the functions read and write the
    // database and nothing else (no key: they neither sign nor verify tokens; admin-reset-mfa
    // only queues its email).
    ("admin-list-users", &[RUNTIME], true, &[]),
    ("admin-get-user", &[RUNTIME], true, &[]),
    ("admin-disable-user", &[RUNTIME], true, &[]),
    ("admin-enable-user", &[RUNTIME], true, &[]),
    ("admin-revoke-sessions", &[RUNTIME], true, &[]),
    ("admin-delete-user", &[RUNTIME], true, &[]),
    ("admin-reset-mfa", &[RUNTIME], true, &[]),
    ("admin-audit", &[RUNTIME], true, &[]),
    // The owner: migrates, creates the runtime login from its secret, fills the signing key and
    // the MFA key.
    (
        "migrate",
        &[MASTER, RUNTIME, SIGNING_KEY, MFA_KEY],
        true,
        &[
            "secretsmanager:DescribeSecret",
            "secretsmanager:PutSecretValue",
        ],
    ),
];
const MASTER: &str = "MasterUserSecret";
const RUNTIME: &str = "DatabaseRuntimeSecret";
const SIGNING_KEY: &str = "JwtSigningKey";
const CODE_KEY: &str = "VerificationCodeKey";
const MFA_KEY: &str = "MfaEncryptionKey";
/// Functions that seal, open or hash second factors, and so read the MFA key (also what
/// `Endpoint::uses_mfa_key` says, checked below).
const MFA_KEY_FUNCTIONS: [&str; 5] = [
    "mfa-totp-enroll",
    "mfa-totp-confirm",
    "mfa-verify",
    "mfa-totp-disable",
    "mfa-recovery-codes",
];
/// Functions that make or check the codes of confirmation emails, and so read the key they are
/// stored under (also what `Endpoint::uses_code_key` says, checked below).
const CODE_KEY_FUNCTIONS: [&str; 4] = [
    "signup",
    "verify-email",
    "resend-verification",
    "change-email",
];
/// Functions that email a confirmation link: they build it from `VERIFY_URL` and store it for
/// `VERIFICATION_TOKEN_TTL`, at most one per `VERIFICATION_RESEND_INTERVAL`.
const CONFIRMATION_SENDERS: [&str; 3] = ["signup", "resend-verification", "change-email"];
/// Functions whose answer `REQUIRE_EMAIL_VERIFICATION` decides: sign-up (202 alike, or 201/409)
/// and the sign-ins, with a password or a passkey (403 for an unconfirmed account, or not).
const VERIFICATION_SWITCHED: [&str; 3] = ["signup", "signin", "passkey-signin-finish"];
/// Functions that send email through SES: the janitor only. Requests queue their emails, so a
/// known email is not answered slower than an unknown one.
const EMAIL_SENDERS: [&str; 1] = ["janitor"];
/// Functions that queue or send emails for SES: they are told `EMAIL_TRANSPORT=ses`.
const EMAIL_QUEUERS: [&str; 11] = [
    "forgot-password",
    "signup",
    "resend-verification",
    "change-password",
    "change-email",
    "delete-account",
    "mfa-verify",
    "mfa-totp-disable",
    "delete-passkey",
    "admin-reset-mfa",
    "janitor",
];
/// Functions that run WebAuthn ceremonies, and so get the relying party's settings (also what
/// `Endpoint::uses_webauthn` says, checked below).
const WEBAUTHN_FUNCTIONS: [&str; 4] = [
    "passkey-register-start",
    "passkey-register-finish",
    "passkey-signin-start",
    "passkey-signin-finish",
];
/// Functions that talk to OpenID Connect providers, and so get the `OIDC_*` settings, the
/// redirect allowlist and the API's public URL (also what `Endpoint::uses_oidc` says, checked
/// below).
const OIDC_FUNCTIONS: [&str; 3] = ["oauth-authorize", "oauth-callback", "oauth-callback-form"];
/// Functions that read `RESET_TOKEN_TTL`: forgot-password stores the token for it, and the
/// janitor stops sending a reset email once its link has expired.
const RESET_TTL_READERS: [&str; 2] = ["forgot-password", "janitor"];
/// Functions outside the HTTP API's route table: the migrations custom resource, the scheduled
/// janitor, and the Lambda authorizer (invoked by API Gateway for the routes it guards).
const BACKGROUND: [&str; 3] = ["migrate", "janitor", "authorizer"];
/// The admin API (docs/design/admin-api.md): function, method and path of each route, every one
/// IAM-authorized (`Auth: Authorizer: AWS_IAM`) and throttled by the `Admin*` parameters.
const ADMIN: [(&str, &str, &str); 8] = [
    ("admin-list-users", "GET", "/admin/users"),
    ("admin-get-user", "GET", "/admin/users/{id}"),
    ("admin-disable-user", "POST", "/admin/users/{id}/disable"),
    ("admin-enable-user", "POST", "/admin/users/{id}/enable"),
    (
        "admin-revoke-sessions",
        "POST",
        "/admin/users/{id}/sessions/revoke",
    ),
    ("admin-delete-user", "DELETE", "/admin/users/{id}"),
    ("admin-reset-mfa", "POST", "/admin/users/{id}/mfa/reset"),
    ("admin-audit", "GET", "/admin/audit"),
];

/// The template as a YAML value; CloudFormation's short forms (`!Ref`, `!GetAtt`, `!Sub`, ...)
/// are `Value::Tagged`.
fn template() -> Value {
    let path = format!("{WORKSPACE_DIR}/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml_ng::from_str(&text).expect("template.yaml is YAML")
}

/// A `!Tag value` node as (tag without the `!`, value).
fn tagged(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => Some((
            tagged.tag.to_string().trim_start_matches('!').to_owned(),
            &tagged.value,
        )),
        _ => None,
    }
}

/// Whether `value` is `!Ref <name>` (or `{"Ref": <name>}`).
fn is_ref_to(value: &Value, name: &str) -> bool {
    match tagged(value) {
        Some((tag, target)) => tag == "Ref" && target.as_str() == Some(name),
        None => value.get("Ref").and_then(Value::as_str) == Some(name),
    }
}

/// Every string anywhere inside `value`, tags included as `!Tag`.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Mapping(map) => map.iter().for_each(|(key, item)| {
            strings(key, out);
            strings(item, out);
        }),
        Value::Tagged(tagged) => {
            out.push(tagged.tag.to_string());
            strings(&tagged.value, out);
        }
        _ => {}
    }
}

fn mentions(value: &Value, needle: &str) -> bool {
    let mut all = Vec::new();
    strings(value, &mut all);
    all.iter().any(|s| s.contains(needle))
}

/// One `AWS::Serverless::Function` resource.
struct Function<'a> {
    logical_id: String,
    resource: &'a Value,
}

impl Function<'_> {
    fn binary(&self) -> &str {
        self.resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no Metadata.BuildProperties.Binary", self.logical_id))
    }

    fn properties(&self) -> &Value {
        &self.resource["Properties"]
    }

    fn environment(&self) -> BTreeMap<String, &Value> {
        self.properties()["Environment"]["Variables"]
            .as_mapping()
            .map(|vars| {
                vars.iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().expect("variable names are strings").to_owned(),
                            v,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// (path, method) of each `HttpApi` event, the method upper-cased.
    fn http_api_routes(&self) -> Vec<(String, String)> {
        let Some(events) = self.properties()["Events"].as_mapping() else {
            return Vec::new();
        };
        events
            .iter()
            .filter(|(_, event)| event["Type"].as_str() == Some("HttpApi"))
            .map(|(name, event)| {
                let name = format!(
                    "{}.Events.{}",
                    self.logical_id,
                    name.as_str().unwrap_or("?")
                );
                let properties = &event["Properties"];
                assert!(
                    is_ref_to(&properties["ApiId"], "HttpApi"),
                    "{name}: ApiId is !Ref HttpApi"
                );
                let path = properties["Path"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: Path is a plain string"));
                let method = properties["Method"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: Method is a plain string"));
                (path.to_owned(), method.to_uppercase())
            })
            .collect()
    }

    fn depends_on(&self) -> Vec<&str> {
        match &self.resource["DependsOn"] {
            Value::String(one) => vec![one.as_str()],
            Value::Sequence(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

fn functions(template: &Value) -> Vec<Function<'_>> {
    let resources = template["Resources"]
        .as_mapping()
        .expect("the template has Resources");
    let functions: Vec<Function> = resources
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, resource)| Function {
            logical_id: id.as_str().expect("logical IDs are strings").to_owned(),
            resource,
        })
        .collect();
    assert!(!functions.is_empty(), "the template declares functions");
    functions
}

fn function<'a>(functions: &'a [Function<'a>], binary: &str) -> &'a Function<'a> {
    let mut found = functions.iter().filter(|f| f.binary() == binary);
    let first = found
        .next()
        .unwrap_or_else(|| panic!("no function builds {binary}"));
    assert!(found.next().is_none(), "two functions build {binary}");
    first
}

/// The route a template event must have for an endpoint: its method and path, or the `$default`
/// route (every method) for the catch-all.
fn expected_route(endpoint: Endpoint) -> (String, String) {
    match endpoint.method() {
        Some(method) => (endpoint.path().to_owned(), method.as_str().to_owned()),
        None => ("$default".to_owned(), "ANY".to_owned()),
    }
}

#[test]
fn template_routes_every_endpoint_to_its_own_function() {
    let template = template();
    let functions = functions(&template);
    for endpoint in Endpoint::ALL {
        let route = expected_route(endpoint);
        let serving: Vec<&Function> = functions
            .iter()
            .filter(|f| f.http_api_routes().contains(&route))
            .collect();
        assert_eq!(
            serving.len(),
            1,
            "{endpoint:?}: exactly one function has the HttpApi event {route:?}"
        );
        assert_eq!(
            serving[0].binary(),
            endpoint.function(),
            "{endpoint:?}: {} builds the wrong binary",
            serving[0].logical_id
        );
        assert_eq!(
            serving[0].http_api_routes().len(),
            1,
            "{}: one route per function",
            serving[0].logical_id
        );
    }
}

#[test]
fn template_has_no_route_outside_the_route_table() {
    let template = template();
    let routes: Vec<(String, String)> = functions(&template)
        .iter()
        .flat_map(|f| f.http_api_routes())
        .collect();
    let unique: BTreeSet<&(String, String)> = routes.iter().collect();
    assert_eq!(
        unique.len(),
        routes.len(),
        "a route is declared twice: {routes:?}"
    );
    let expected: BTreeSet<(String, String)> =
        Endpoint::ALL.into_iter().map(expected_route).collect();
    let declared: BTreeSet<(String, String)> = routes.into_iter().collect();
    assert_eq!(declared, expected);

    // Only the HTTP API and the janitor's schedule trigger functions.
    for function in functions(&template) {
        if let Some(events) = function.properties()["Events"].as_mapping() {
            for (name, event) in events {
                let kind = event["Type"].as_str().unwrap_or_default();
                assert!(
                    kind == "HttpApi" || (kind == "Schedule" && function.binary() == "janitor"),
                    "{}.Events.{name:?}: unexpected event type {kind}",
                    function.logical_id
                );
            }
        }
    }
}

#[test]
fn every_template_function_builds_a_workspace_crate() {
    let template = template();
    let functions = functions(&template);
    let binaries: BTreeSet<&str> = functions.iter().map(Function::binary).collect();
    let expected: BTreeSet<&str> = Endpoint::ALL
        .iter()
        .map(|e| e.function())
        .chain(BACKGROUND)
        .collect();
    assert_eq!(
        binaries, expected,
        "one function per endpoint, plus migrate and janitor"
    );
    assert_eq!(binaries.len(), functions.len(), "a binary is built twice");

    for function in &functions {
        let id = &function.logical_id;
        assert_eq!(
            function.resource["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        assert_eq!(
            function.properties()["CodeUri"].as_str(),
            Some("./"),
            "{id}: built from the workspace root"
        );
        // Covers `migrate` and `janitor` too: a function added to the template without its crate
        // (or a crate renamed) fails here rather than in `sam build`.
        let manifest = format!("{WORKSPACE_DIR}/functions/{}/Cargo.toml", function.binary());
        let manifest =
            std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{id}: {manifest}: {e}"));
        assert!(
            manifest.contains(&format!("name = \"{}\"", function.binary())),
            "{id}: the crate is named after its binary"
        );
    }

    let function_globals = &template["Globals"]["Function"];
    assert_eq!(
        function_globals["Runtime"].as_str(),
        Some("provided.al2023")
    );
    assert_eq!(function_globals["Handler"].as_str(), Some("bootstrap"));
    assert_eq!(
        function_globals["Architectures"],
        serde_yaml_ng::from_str::<Value>("[arm64]").unwrap()
    );
}

/// The secrets a function's policies name, by [`ACCESS`]'s names, and the actions they allow
/// besides `secretsmanager:GetSecretValue`.
fn grants(function: &Function) -> (BTreeSet<&'static str>, BTreeSet<String>) {
    let policies = &function.properties()["Policies"];
    let secrets = [MASTER, RUNTIME, SIGNING_KEY, CODE_KEY, MFA_KEY]
        .into_iter()
        .filter(|secret| mentions(policies, secret))
        .collect();
    let mut actions = BTreeSet::new();
    policy_actions(policies, &mut actions);
    actions.remove("secretsmanager:GetSecretValue");
    (secrets, actions)
}

/// Every `Action` of the policy statements inside `value`.
fn policy_actions(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Sequence(items) => items.iter().for_each(|item| policy_actions(item, out)),
        Value::Mapping(map) => {
            for (key, item) in map {
                if key.as_str() == Some("Action") {
                    let mut found = Vec::new();
                    strings(item, &mut found);
                    out.extend(found);
                } else {
                    policy_actions(item, out);
                }
            }
        }
        // The SAM policy template AWSSecretsManagerGetSecretValuePolicy allows just that.
        _ => {}
    }
}

#[test]
fn each_function_gets_exactly_the_access_its_code_uses() {
    let template = template();
    let functions = functions(&template);
    let listed: BTreeSet<&str> = ACCESS.iter().map(|(binary, ..)| *binary).collect();
    let declared: BTreeSet<&str> = functions.iter().map(Function::binary).collect();
    assert_eq!(
        listed, declared,
        "ACCESS lists every function of the template"
    );
    for (binary, secrets, in_vpc, actions) in ACCESS {
        let function = function(&functions, binary);
        let id = &function.logical_id;
        let (granted, allowed) = grants(function);
        assert_eq!(
            granted,
            secrets.iter().copied().collect(),
            "{id}: the secrets it may read"
        );
        assert_eq!(
            allowed,
            actions.iter().map(|a| a.to_string()).collect(),
            "{id}: the actions besides reading secrets"
        );
        assert_eq!(
            function.properties().get("VpcConfig").is_some(),
            *in_vpc,
            "{id}: in the VPC"
        );
        // A secret it may read is one it is told about, and the other way round.
        let env = function.environment();
        // migrate is told the key secrets it fills by the custom resource's event instead.
        let event = &template["Resources"]["DatabaseMigrations"]["Properties"];
        let told: BTreeSet<&str> = [MASTER, RUNTIME, SIGNING_KEY, CODE_KEY, MFA_KEY]
            .into_iter()
            .filter(|secret| {
                env.values().any(|value| mentions(value, secret))
                    || (*binary == "migrate"
                        && ["SigningKeySecret", "MfaKeySecret"]
                            .iter()
                            .any(|property| is_ref_to(&event[*property], secret)))
            })
            .collect();
        assert_eq!(told, granted, "{id}: the secrets its environment names");
        for policy in function.properties()["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            assert!(
                !mentions(policy, "*"),
                "{id}: no wildcard in a policy: {policy:?}"
            );
        }
    }
}

/// The functions of the endpoints `test` holds for.
fn endpoint_functions(test: fn(Endpoint) -> bool) -> BTreeSet<&'static str> {
    Endpoint::ALL
        .into_iter()
        .filter(|e| test(*e))
        .map(|e| e.function())
        .collect()
}

/// The functions whose environment sets `variable`.
fn given<'a>(functions: &'a [Function<'a>], variable: &str) -> BTreeSet<&'a str> {
    functions
        .iter()
        .filter(|f| f.environment().contains_key(variable))
        .map(Function::binary)
        .collect()
}

#[test]
fn only_the_signing_functions_read_the_private_key() {
    let template = template();
    let functions = functions(&template);
    assert_eq!(
        endpoint_functions(Endpoint::issues_tokens),
        SIGNERS.into_iter().collect(),
        "Endpoint::issues_tokens agrees"
    );
    assert_eq!(
        given(&functions, "JWT_PRIVATE_KEY_ARN"),
        SIGNERS.into_iter().collect(),
        "functions given JWT_PRIVATE_KEY_ARN"
    );
    for binary in SIGNERS {
        let env = function(&functions, binary).environment();
        assert!(
            is_ref_to(env["JWT_PRIVATE_KEY_ARN"], SIGNING_KEY),
            "{binary}: JWT_PRIVATE_KEY_ARN is !Ref JwtSigningKey"
        );
        for variable in ["JWT_ISSUER", "JWT_AUDIENCE", "ACCESS_TOKEN_TTL"] {
            assert!(env.contains_key(variable), "{binary}: {variable}");
        }
        assert!(
            !env.contains_key("JWT_PUBLIC_KEY"),
            "{binary}: JWT_PUBLIC_KEY"
        );
        // Only a signer that also verifies a bearer access token gets the previous public keys,
        // which verify the tokens signed before a rotation.
        assert_eq!(
            env.contains_key("JWT_PREVIOUS_PUBLIC_KEYS"),
            BEARER_SIGNERS.contains(&binary),
            "{binary}: JWT_PREVIOUS_PUBLIC_KEYS"
        );
    }
}

#[test]
fn verifying_functions_get_the_public_keys_only() {
    let template = template();
    let functions = functions(&template);
    assert_eq!(
        endpoint_functions(Endpoint::verifies_tokens),
        VERIFIERS.into_iter().collect(),
        "Endpoint::verifies_tokens agrees"
    );
    // The Lambda authorizer verifies tokens too, for the APIs behind us (it has no route).
    let verifiers: Vec<&str> = VERIFIERS.into_iter().chain(["authorizer"]).collect();
    assert_eq!(
        given(&functions, "JWT_PUBLIC_KEY"),
        verifiers.iter().copied().collect(),
        "functions given JWT_PUBLIC_KEY"
    );
    for &binary in &verifiers {
        let env = function(&functions, binary).environment();
        // The public half, as the migrations resource read it from the signing-key secret.
        let (tag, target) = tagged(env["JWT_PUBLIC_KEY"])
            .unwrap_or_else(|| panic!("{binary}: JWT_PUBLIC_KEY is !GetAtt"));
        assert_eq!(
            (tag.as_str(), target.as_str()),
            ("GetAtt", Some("DatabaseMigrations.SigningPublicKey")),
            "{binary}: JWT_PUBLIC_KEY"
        );
        assert!(
            is_ref_to(env["JWT_PREVIOUS_PUBLIC_KEYS"], "JwtPreviousPublicKeys"),
            "{binary}: the previous keys of a rotation"
        );
        assert!(!env.contains_key("JWT_PRIVATE_KEY_ARN"), "{binary}");
        if binary != "jwks" {
            for variable in ["JWT_ISSUER", "JWT_AUDIENCE"] {
                assert!(env.contains_key(variable), "{binary}: {variable}");
            }
        }
    }
    // A rotation changes the previous keys: the resource runs again and reads the new key.
    assert!(
        is_ref_to(
            &template["Resources"]["DatabaseMigrations"]["Properties"]["PreviousPublicKeys"],
            "JwtPreviousPublicKeys"
        ),
        "DatabaseMigrations reruns when a rotation changes JwtPreviousPublicKeys"
    );
}

#[test]
fn the_functions_log_in_with_a_runtime_role_the_proxy_serves() {
    let template = template();
    let resources = &template["Resources"];
    let secret = &resources[RUNTIME];
    assert_eq!(secret["Type"].as_str(), Some("AWS::SecretsManager::Secret"));
    let generate = &secret["Properties"]["GenerateSecretString"];
    let document: serde_json::Value = serde_json::from_str(
        generate["SecretStringTemplate"]
            .as_str()
            .expect("SecretStringTemplate is a JSON string"),
    )
    .unwrap();
    assert!(
        document["username"].is_string(),
        "the role's name is in the secret"
    );
    assert_eq!(generate["GenerateStringKey"].as_str(), Some("password"));
    assert!(generate["PasswordLength"].as_u64().unwrap_or(0) >= 32);

    // RDS Proxy logs in with both: the owner for migrate, the runtime role for the rest.
    let proxy = &resources["DatabaseProxy"]["Properties"];
    let served: Vec<&Value> = proxy["Auth"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|auth| &auth["SecretArn"])
        .collect();
    assert_eq!(served.len(), 2, "two logins");
    assert!(
        served
            .iter()
            .any(|arn| mentions(arn, "Database.MasterUserSecret.SecretArn"))
    );
    assert!(served.iter().any(|arn| is_ref_to(arn, RUNTIME)));
    let role = &resources["DatabaseProxyRole"]["Properties"]["Policies"];
    assert!(mentions(role, "Database.MasterUserSecret.SecretArn") && mentions(role, RUNTIME));

    let functions = functions(&template);
    for function in &functions {
        let env = function.environment();
        let Some(secret) = env.get("DB_SECRET_ARN") else {
            continue;
        };
        if function.binary() == "migrate" {
            assert!(
                mentions(secret, "Database.MasterUserSecret.SecretArn"),
                "migrate: the owner"
            );
            assert!(
                is_ref_to(env["DB_RUNTIME_SECRET_ARN"], RUNTIME),
                "migrate: the role it creates"
            );
        } else {
            assert!(
                is_ref_to(secret, RUNTIME),
                "{}: the runtime role",
                function.logical_id
            );
            assert!(
                !env.contains_key("DB_RUNTIME_SECRET_ARN"),
                "{}",
                function.logical_id
            );
        }
    }
}

#[test]
fn the_signing_key_secret_starts_empty_and_only_the_migrations_resource_fills_it() {
    let template = template();
    let secret = &template["Resources"]["JwtSigningKey"];
    assert_eq!(secret["Type"].as_str(), Some("AWS::SecretsManager::Secret"));
    for key in ["SecretString", "GenerateSecretString"] {
        assert!(
            secret["Properties"].get(key).is_none(),
            "JwtSigningKey is created empty (no {key}): the custom resource puts a PEM key in it"
        );
    }
    assert!(
        is_ref_to(
            &template["Resources"]["DatabaseMigrations"]["Properties"]["SigningKeySecret"],
            "JwtSigningKey"
        ),
        "DatabaseMigrations generates the key into JwtSigningKey"
    );
    let functions = functions(&template);
    for function in &functions {
        let writes = mentions(
            &function.properties()["Policies"],
            "secretsmanager:PutSecretValue",
        );
        assert_eq!(
            writes,
            function.binary() == "migrate",
            "{}: only migrate may write a secret",
            function.logical_id
        );
    }
    let migrate = function(&functions, "migrate");
    let statement = &migrate.properties()["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|policy| mentions(policy, "secretsmanager:PutSecretValue"))
        .unwrap()["Statement"][0];
    let resources = statement["Resource"].as_sequence().unwrap();
    assert!(
        resources.len() == 2
            && is_ref_to(&resources[0], "JwtSigningKey")
            && is_ref_to(&resources[1], "MfaEncryptionKey"),
        "migrate may write JwtSigningKey and MfaEncryptionKey, and nothing else"
    );
    assert!(
        !migrate.environment().contains_key("JWT_PRIVATE_KEY_ARN"),
        "migrate signs nothing"
    );
}

/// Exactly `readers` (and `migrate`, when it fills the secret) may read `secret`: each is told it
/// by `variable` (`!Ref secret`) and granted the SAM read policy scoped to it alone, `uses` (the
/// route table's own flag) agrees, and the key itself never sits in an environment.
fn only_these_read_the_secret(
    readers: &[&str],
    uses: fn(Endpoint) -> bool,
    secret: &str,
    variable: &str,
) {
    let template = template();
    let functions = functions(&template);
    let expected: BTreeSet<&str> = readers.iter().copied().collect();
    let endpoints: BTreeSet<&str> = Endpoint::ALL
        .into_iter()
        .filter(|e| uses(*e))
        .map(|e| e.function())
        .collect();
    assert_eq!(endpoints, expected, "the route table agrees");
    let with_variable: BTreeSet<&str> = functions
        .iter()
        .filter(|f| f.environment().contains_key(variable))
        .map(Function::binary)
        .collect();
    let with_permission: BTreeSet<&str> = functions
        .iter()
        .filter(|f| mentions(&f.properties()["Policies"], secret))
        .map(Function::binary)
        // migrate fills the key secrets on deploy (checked by the tests of those secrets).
        .filter(|binary| *binary != "migrate")
        .collect();
    assert_eq!(with_variable, expected, "functions given {variable}");
    assert_eq!(
        with_permission, expected,
        "functions allowed to read {secret}"
    );
    let key_variable = variable.trim_end_matches("_ARN");
    for function in &functions {
        assert!(
            !function.environment().contains_key(key_variable),
            "{}: the key itself never sits in the environment",
            function.logical_id
        );
    }
    for binary in readers {
        let function = function(&functions, binary);
        assert!(
            is_ref_to(function.environment()[variable], secret),
            "{binary}: {variable} is !Ref {secret}"
        );
        // The grant is the SAM policy template scoped to the secret, not a wildcard.
        let grants: Vec<&Value> = function.properties()["Policies"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|policy| mentions(policy, secret))
            .collect();
        assert_eq!(grants.len(), 1, "{binary}: one grant");
        assert!(
            is_ref_to(
                &grants[0]["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"],
                secret
            ),
            "{binary}: read-only access to that one secret"
        );
    }
}

#[test]
fn only_code_key_functions_can_read_the_code_key_secret() {
    only_these_read_the_secret(
        &CODE_KEY_FUNCTIONS,
        Endpoint::uses_code_key,
        CODE_KEY,
        "VERIFICATION_CODE_KEY_ARN",
    );
}

#[test]
fn only_mfa_key_functions_can_read_the_mfa_key_and_migrate_fills_it() {
    only_these_read_the_secret(
        &MFA_KEY_FUNCTIONS,
        Endpoint::uses_mfa_key,
        MFA_KEY,
        "MFA_ENCRYPTION_KEY_ARN",
    );
    assert!(
        is_ref_to(
            &template()["Resources"]["DatabaseMigrations"]["Properties"]["MfaKeySecret"],
            MFA_KEY
        ),
        "the deploy generates the key into its empty secret"
    );
}

#[test]
fn only_the_ceremony_functions_get_the_relying_party_from_its_parameters() {
    let template = template();
    let functions = functions(&template);
    let expected: BTreeSet<&str> = WEBAUTHN_FUNCTIONS.into_iter().collect();
    assert_eq!(
        endpoint_functions(Endpoint::uses_webauthn),
        expected,
        "Endpoint::uses_webauthn agrees"
    );
    let settings = [
        ("WEBAUTHN_RP_ID", "PasskeyRpId"),
        ("WEBAUTHN_ORIGIN", "PasskeyOrigin"),
        ("WEBAUTHN_RP_NAME", "PasskeyRpName"),
    ];
    for (variable, parameter) in settings {
        assert_eq!(
            given(&functions, variable),
            expected,
            "functions given {variable}"
        );
        for binary in WEBAUTHN_FUNCTIONS {
            assert!(
                is_ref_to(
                    function(&functions, binary).environment()[variable],
                    parameter
                ),
                "{binary}: {variable} is !Ref {parameter}"
            );
        }
        assert!(
            template["Parameters"].get(parameter).is_some(),
            "the {parameter} parameter"
        );
    }
    // Empty by default: the functions refuse to start in AWS until the stack names its domain,
    // rather than register passkeys for localhost.
    for parameter in ["PasskeyRpId", "PasskeyOrigin"] {
        assert_eq!(
            template["Parameters"][parameter]["Default"].as_str(),
            Some(""),
            "{parameter}"
        );
    }
}

#[test]
fn only_the_provider_functions_get_the_oidc_settings_from_their_parameters() {
    let template = template();
    let functions = functions(&template);
    let expected: BTreeSet<&str> = OIDC_FUNCTIONS.into_iter().collect();
    assert_eq!(
        endpoint_functions(Endpoint::uses_oidc),
        expected,
        "Endpoint::uses_oidc agrees"
    );
    for (variable, parameter) in [
        ("OIDC_PROVIDERS", "OidcProviders"),
        ("OAUTH_REDIRECT_ALLOWLIST", "OauthRedirectAllowlist"),
        ("API_PUBLIC_URL", "ApiPublicUrl"),
    ] {
        // The sign-in page also gets the names alone, for its buttons.
        let mut given_to = expected.clone();
        if variable == "OIDC_PROVIDERS" {
            given_to.insert("signin-page");
        }
        assert_eq!(given(&functions, variable), given_to, "{variable}");
        for &binary in &given_to {
            assert!(
                is_ref_to(
                    function(&functions, binary).environment()[variable],
                    parameter
                ),
                "{binary}: {variable} is !Ref {parameter}"
            );
        }
    }
    let parameters = &template["Parameters"];
    assert_eq!(parameters["OidcProviders"]["Default"].as_str(), Some(""));
    assert_eq!(
        parameters["OauthRedirectAllowlist"]["Default"].as_str(),
        Some("")
    );
    assert_eq!(
        parameters["ApiPublicUrl"]["Default"].as_str(),
        Some("from-request")
    );
    // No function gets a provider's own settings from the template: the operator adds them.
    for function in &functions {
        assert!(
            !function
                .environment()
                .keys()
                .any(|k| k.starts_with("OIDC_") && *k != "OIDC_PROVIDERS"),
            "{}: per-provider settings are the operator's",
            function.logical_id
        );
    }
}

/// The resources that give the stack's own VPC a way out to the internet, by type, and how many
/// of each: all of them exist only under the `ProviderEgress` condition.
const PROVIDER_EGRESS_RESOURCES: [(&str, usize); 4] = [
    ("AWS::EC2::InternetGateway", 1),
    ("AWS::EC2::VPCGatewayAttachment", 1),
    ("AWS::EC2::EIP", 1),
    ("AWS::EC2::NatGateway", 1),
];

/// The name of a condition `value` refers to as `!Condition <name>` (or `{"Condition": <name>}`).
fn condition_ref(value: &Value) -> Option<&str> {
    match tagged(value) {
        Some((tag, target)) if tag == "Condition" => target.as_str(),
        Some(_) => None,
        None => value.get("Condition").and_then(Value::as_str),
    }
}

/// Whether the condition `value` is `!Not [!Equals [!Ref <parameter>, '']]`.
fn is_not_empty(value: &Value, parameter: &str) -> bool {
    let Some((tag, operand)) = tagged(value) else {
        return false;
    };
    if tag != "Not" {
        return false;
    }
    let Some((tag, equals)) = operand
        .as_sequence()
        .and_then(|s| s.first())
        .and_then(tagged)
    else {
        return false;
    };
    let operands = equals.as_sequence().map(Vec::as_slice).unwrap_or_default();
    tag == "Equals"
        && operands.len() == 2
        && is_ref_to(&operands[0], parameter)
        && operands[1].as_str() == Some("")
}

/// The logical IDs `value` (a list) refers to with `!Ref`.
fn refs(value: &Value) -> BTreeSet<String> {
    value
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|item| match tagged(item) {
            Some((tag, target)) if tag == "Ref" => target.as_str().map(str::to_owned),
            _ => None,
        })
        .collect()
}

#[test]
fn only_the_provider_functions_reach_the_internet_and_only_with_a_provider() {
    let template = template();
    let functions = functions(&template);
    let resources = template["Resources"].as_mapping().unwrap();
    let resource = |id: &str| -> &Value {
        template["Resources"]
            .get(id)
            .unwrap_or_else(|| panic!("no resource {id}"))
    };
    let condition = |id: &str| resource(id)["Condition"].as_str().map(str::to_owned);
    let of_type = |kind: &str| -> Vec<(String, &Value)> {
        resources
            .iter()
            .filter(|(_, r)| r["Type"].as_str() == Some(kind))
            .map(|(id, r)| (id.as_str().unwrap().to_owned(), r))
            .collect()
    };

    // The condition: the stack's own VPC, and a provider named. Neither alone.
    let conditions = &template["Conditions"];
    let (tag, operands) = tagged(&conditions["ProviderEgress"]).expect("ProviderEgress is !And");
    assert_eq!(tag, "And");
    let operands: BTreeSet<&str> = operands
        .as_sequence()
        .expect("!And takes a list")
        .iter()
        .map(|operand| condition_ref(operand).expect("ProviderEgress combines conditions"))
        .collect();
    assert_eq!(
        operands,
        BTreeSet::from(["CreateVpc", "HasOidcProviders"]),
        "ProviderEgress: the stack's own VPC and a provider"
    );
    assert!(
        is_not_empty(&conditions["HasOidcProviders"], "OidcProviders"),
        "HasOidcProviders: OidcProviders is not empty"
    );
    assert_eq!(
        template["Parameters"]["OidcProviders"]["Default"].as_str(),
        Some(""),
        "no provider (and so no NAT) by default"
    );

    // Everything that leads out to the internet, and costs by the hour, exists only under it: a
    // stack without providers (or in an existing VPC) pays for no NAT gateway.
    for (kind, count) in PROVIDER_EGRESS_RESOURCES {
        let found = of_type(kind);
        assert_eq!(found.len(), count, "{kind}: {count} in the template");
        for (id, r) in found {
            assert_eq!(
                r["Condition"].as_str(),
                Some("ProviderEgress"),
                "{id} ({kind}) only under ProviderEgress"
            );
        }
    }
    let (_, eip) = &of_type("AWS::EC2::EIP")[0];
    assert_eq!(eip["Properties"]["Domain"].as_str(), Some("vpc"));
    let (nat_id, nat) = &of_type("AWS::EC2::NatGateway")[0];
    let (igw_id, _) = &of_type("AWS::EC2::InternetGateway")[0];

    // The NAT gateway sits in a public subnet of its own, in AZ 0, that launches nothing public.
    let (tag, subnet) = tagged(&nat["Properties"]["SubnetId"]).expect("SubnetId is !Ref");
    assert_eq!(tag, "Ref");
    let public_subnet = subnet.as_str().unwrap();
    assert_eq!(
        condition(public_subnet).as_deref(),
        Some("ProviderEgress"),
        "{public_subnet} only under ProviderEgress"
    );
    let public = &resource(public_subnet)["Properties"];
    assert_eq!(public["MapPublicIpOnLaunch"].as_bool(), Some(false));
    assert_eq!(public["CidrBlock"].as_str(), Some("10.40.32.0/20"));
    assert!(
        mentions(&public["AvailabilityZone"], "GetAZs")
            && tagged(&public["AvailabilityZone"])
                .and_then(|(_, select)| select.as_sequence()?.first()?.as_u64())
                == Some(0),
        "{public_subnet}: in AZ 0"
    );

    // Every route is the stack's way out, so under ProviderEgress too: 0.0.0.0/0 to the internet
    // gateway from the public subnet only, and 0.0.0.0/0 to the NAT gateway from the private one.
    let routes = of_type("AWS::EC2::Route");
    assert_eq!(routes.len(), 2, "two routes: public -> IGW, private -> NAT");
    let associated = |table: &str| -> BTreeSet<String> {
        of_type("AWS::EC2::SubnetRouteTableAssociation")
            .into_iter()
            .filter(|(_, a)| is_ref_to(&a["Properties"]["RouteTableId"], table))
            .filter_map(|(_, a)| match tagged(&a["Properties"]["SubnetId"]) {
                Some((tag, subnet)) if tag == "Ref" => subnet.as_str().map(str::to_owned),
                _ => None,
            })
            .collect()
    };
    let mut to_igw = 0;
    let mut to_nat = 0;
    for (id, route) in &routes {
        assert_eq!(
            route["Condition"].as_str(),
            Some("ProviderEgress"),
            "{id} only under ProviderEgress"
        );
        let properties = &route["Properties"];
        assert_eq!(
            properties["DestinationCidrBlock"].as_str(),
            Some("0.0.0.0/0")
        );
        let (tag, table) = tagged(&properties["RouteTableId"]).expect("RouteTableId is !Ref");
        assert_eq!(tag, "Ref");
        let table = table.as_str().unwrap();
        if is_ref_to(&properties["GatewayId"], igw_id) {
            to_igw += 1;
            assert_eq!(
                associated(table),
                BTreeSet::from([public_subnet.to_owned()]),
                "{id}: the internet gateway is the public subnet's route only"
            );
        } else if is_ref_to(&properties["NatGatewayId"], nat_id) {
            to_nat += 1;
            assert_eq!(
                table, "PrivateRouteTable",
                "{id}: the private subnets' way out"
            );
            assert_eq!(
                associated(table),
                BTreeSet::from(["PrivateSubnetA".to_owned(), "PrivateSubnetB".to_owned()]),
                "{id}: the subnets the functions sit in"
            );
        } else {
            panic!("{id}: a route to neither the internet gateway nor the NAT gateway");
        }
    }
    assert_eq!((to_igw, to_nat), (1, 1));

    // The route is there for every function in the VPC: the security groups decide who uses it.
    // The provider functions' group allows HTTPS out, to anywhere, and nothing else...
    let group = &resource("ProviderEgressSecurityGroup")["Properties"];
    let egress = group["SecurityGroupEgress"].as_sequence().unwrap();
    assert_eq!(egress.len(), 1, "one egress rule");
    assert_eq!(egress[0]["IpProtocol"].as_str(), Some("tcp"));
    assert_eq!(egress[0]["FromPort"].as_u64(), Some(443));
    assert_eq!(egress[0]["ToPort"].as_u64(), Some(443));
    assert_eq!(egress[0]["CidrIp"].as_str(), Some("0.0.0.0/0"));
    assert!(group.get("SecurityGroupIngress").is_none(), "no ingress");
    for kind in [
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::SecurityGroupIngress",
    ] {
        for (id, rule) in of_type(kind) {
            assert!(
                !is_ref_to(
                    &rule["Properties"]["GroupId"],
                    "ProviderEgressSecurityGroup"
                ),
                "{id}: no rule is added to ProviderEgressSecurityGroup"
            );
        }
    }
    // ...and only the two provider functions have it.
    let with_egress: BTreeSet<&str> = functions
        .iter()
        .filter(|f| {
            refs(&f.properties()["VpcConfig"]["SecurityGroupIds"])
                .contains("ProviderEgressSecurityGroup")
        })
        .map(Function::binary)
        .collect();
    assert_eq!(
        with_egress,
        OIDC_FUNCTIONS.into_iter().collect(),
        "functions in ProviderEgressSecurityGroup"
    );
    for function in &functions {
        if function.properties().get("VpcConfig").is_none() {
            continue;
        }
        let mut expected = BTreeSet::from(["FunctionSecurityGroup".to_owned()]);
        if OIDC_FUNCTIONS.contains(&function.binary()) {
            expected.insert("ProviderEgressSecurityGroup".to_owned());
        }
        // migrate answers CloudFormation through the S3 gateway endpoint (see the template).
        if function.binary() == "migrate" {
            expected.insert("MigrateResponseSecurityGroup".to_owned());
        }
        assert_eq!(
            refs(&function.properties()["VpcConfig"]["SecurityGroupIds"]),
            expected,
            "{}: its security groups",
            function.logical_id
        );
    }
    // The other functions' group opens no way to the internet in the stack's own VPC: its only
    // rule to anywhere is for an existing VPC (where ProviderEgress is false).
    for (id, rule) in of_type("AWS::EC2::SecurityGroupEgress") {
        let properties = &rule["Properties"];
        if is_ref_to(&properties["GroupId"], "FunctionSecurityGroup")
            && properties.get("CidrIp").is_some()
        {
            assert_eq!(
                rule["Condition"].as_str(),
                Some("UseExistingVpc"),
                "{id}: FunctionSecurityGroup reaches addresses only in an existing VPC"
            );
        }
    }
    let inline = resource("FunctionSecurityGroup")["Properties"]["SecurityGroupEgress"]
        .as_sequence()
        .unwrap();
    assert!(
        inline
            .iter()
            .all(|rule| rule["CidrIp"].as_str() == Some("255.255.255.255/32")),
        "FunctionSecurityGroup: only the placeholder rule inline"
    );

    // The providers' client secrets: GetSecretValue on exactly the ARNs of OidcClientSecretArns,
    // for the two provider functions only, and no statement at all while it is empty.
    let parameter = &template["Parameters"]["OidcClientSecretArns"];
    assert_eq!(parameter["Default"].as_str(), Some(""), "empty by default");
    let pattern = parameter["AllowedPattern"]
        .as_str()
        .expect("an AllowedPattern");
    assert!(
        pattern.starts_with("^(")
            && pattern.ends_with(")?$")
            && pattern.contains(":secretsmanager:"),
        "empty, or Secrets Manager ARNs: {pattern}"
    );
    assert!(
        is_not_empty(&conditions["HasOidcClientSecrets"], "OidcClientSecretArns"),
        "HasOidcClientSecrets: OidcClientSecretArns is not empty"
    );
    let readers: BTreeSet<&str> = functions
        .iter()
        .filter(|f| mentions(&f.properties()["Policies"], "OidcClientSecretArns"))
        .map(Function::binary)
        .collect();
    assert_eq!(
        readers,
        OIDC_FUNCTIONS.into_iter().collect(),
        "functions allowed to read the client secrets"
    );
    for binary in OIDC_FUNCTIONS {
        let grants: Vec<&Value> = function(&functions, binary).properties()["Policies"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|policy| mentions(policy, "OidcClientSecretArns"))
            .collect();
        assert_eq!(grants.len(), 1, "{binary}: one grant");
        let (tag, branches) = tagged(grants[0]).expect("the grant is !If");
        assert_eq!(tag, "If");
        let branches = branches.as_sequence().unwrap();
        assert_eq!(branches.len(), 3);
        assert_eq!(
            branches[0].as_str(),
            Some("HasOidcClientSecrets"),
            "{binary}: only with client secrets named"
        );
        assert!(
            is_ref_to(&branches[2], "AWS::NoValue"),
            "{binary}: no statement otherwise"
        );
        let statements = branches[1]["Statement"].as_sequence().unwrap();
        assert_eq!(statements.len(), 1, "{binary}: one statement");
        let statement = &statements[0];
        assert_eq!(statement["Effect"].as_str(), Some("Allow"));
        let mut actions = BTreeSet::new();
        policy_actions(&branches[1], &mut actions);
        assert_eq!(
            actions,
            BTreeSet::from(["secretsmanager:GetSecretValue".to_owned()]),
            "{binary}: read only"
        );
        let (tag, split) = tagged(&statement["Resource"]).expect("Resource is !Split");
        assert_eq!(tag, "Split");
        let split = split.as_sequence().unwrap();
        assert_eq!(split[0].as_str(), Some(","));
        assert!(
            is_ref_to(&split[1], "OidcClientSecretArns"),
            "{binary}: exactly the parameter's ARNs"
        );
    }
}

#[test]
fn the_code_key_secret_is_random_text_secrets_manager_generates() {
    let template = template();
    let secret = &template["Resources"]["VerificationCodeKey"];
    assert_eq!(secret["Type"].as_str(), Some("AWS::SecretsManager::Secret"));
    assert!(
        secret["Properties"].get("SecretString").is_none(),
        "no key is written into the template"
    );
    let generate = &secret["Properties"]["GenerateSecretString"];
    let length = generate["PasswordLength"]
        .as_u64()
        .expect("GenerateSecretString.PasswordLength");
    // The loader requires 32 bytes; 48 random characters are about 280 bits even from a small
    // alphabet.
    assert!(length >= 48, "PasswordLength {length}");
    for key in ["SecretStringTemplate", "GenerateStringKey"] {
        assert!(
            generate.get(key).is_none(),
            "the secret is the key itself, not a JSON document ({key})"
        );
    }
    let functions = functions(&template);
    assert!(
        !mentions(
            &function(&functions, "migrate").properties()["Policies"],
            "VerificationCodeKey"
        ),
        "nothing writes it: CloudFormation generated it"
    );
}

#[test]
fn verification_settings_reach_exactly_the_functions_that_read_them() {
    let template = template();
    let functions = functions(&template);
    assert_eq!(
        template["Parameters"]["RequireEmailVerification"]["Default"].as_str(),
        Some("true"),
        "addresses are proven unless the stack says otherwise"
    );
    for function in &functions {
        let binary = function.binary();
        let id = &function.logical_id;
        let env = function.environment();

        let switched = VERIFICATION_SWITCHED.contains(&binary);
        assert_eq!(
            env.contains_key("REQUIRE_EMAIL_VERIFICATION"),
            switched,
            "{id}: REQUIRE_EMAIL_VERIFICATION"
        );
        if switched {
            assert!(
                is_ref_to(
                    env["REQUIRE_EMAIL_VERIFICATION"],
                    "RequireEmailVerification"
                ),
                "{id}: from the RequireEmailVerification parameter"
            );
        }

        let sends = CONFIRMATION_SENDERS.contains(&binary);
        for variable in ["VERIFY_URL", "VERIFICATION_RESEND_INTERVAL"] {
            assert_eq!(env.contains_key(variable), sends, "{id}: {variable}");
        }
        // The janitor stops sending a confirmation once its link has expired.
        assert_eq!(
            env.contains_key("VERIFICATION_TOKEN_TTL"),
            sends || binary == "janitor",
            "{id}: VERIFICATION_TOKEN_TTL"
        );
        assert_eq!(
            env.contains_key("UNVERIFIED_ACCOUNT_TTL"),
            binary == "janitor",
            "{id}: UNVERIFIED_ACCOUNT_TTL"
        );
        if sends {
            // Without the parameter, the domain of the request (the default VERIFY_URL would
            // send people to localhost).
            let (tag, branches) = tagged(env["VERIFY_URL"])
                .unwrap_or_else(|| panic!("{id}: VERIFY_URL is !If [HasVerifyUrl, ...]"));
            assert_eq!(tag, "If", "{id}: VERIFY_URL");
            assert_eq!(branches[0].as_str(), Some("HasVerifyUrl"), "{id}");
            assert!(is_ref_to(&branches[1], "VerifyUrl"), "{id}");
            assert_eq!(branches[2].as_str(), Some("from-request"), "{id}");
        }
    }
}

#[test]
fn only_the_janitor_can_send_email_and_requests_queue_it() {
    let template = template();
    let functions = functions(&template);
    let senders: BTreeSet<&str> = functions
        .iter()
        .filter(|f| mentions(&f.properties()["Policies"], "ses:SendEmail"))
        .map(Function::binary)
        .collect();
    let expected: BTreeSet<&str> = EMAIL_SENDERS.into_iter().collect();
    assert_eq!(senders, expected, "functions allowed ses:SendEmail");
    for function in &functions {
        assert!(
            !mentions(function.properties(), "ses:*")
                && !mentions(function.properties(), "ses:SendRawEmail"),
            "{}: no SES permission beyond ses:SendEmail",
            function.logical_id
        );
        let env = function.environment();
        let links = function.binary() == "forgot-password";
        assert_eq!(
            env.contains_key("RESET_URL"),
            links,
            "{}: RESET_URL",
            function.logical_id
        );
        assert_eq!(
            env.contains_key("RESET_TOKEN_TTL"),
            RESET_TTL_READERS.contains(&function.binary()),
            "{}: RESET_TOKEN_TTL",
            function.logical_id
        );
        let sends = EMAIL_QUEUERS.contains(&function.binary());
        assert_eq!(
            env.contains_key("EMAIL_FROM"),
            sends,
            "{}: EMAIL_FROM",
            function.logical_id
        );
        assert_eq!(
            env.get("EMAIL_TRANSPORT").and_then(|v| v.as_str()),
            sends.then_some("ses"),
            "{}: EMAIL_TRANSPORT",
            function.logical_id
        );
    }
}

#[test]
fn stateless_functions_get_no_vpc_no_policies_and_no_database() {
    let template = template();
    let functions = functions(&template);
    // What the globals hold, every function gets: none of it may be a grant or the VPC.
    let function_globals = &template["Globals"]["Function"];
    for key in ["VpcConfig", "Policies", "Role"] {
        assert!(
            function_globals.get(key).is_none(),
            "Globals.Function.{key} would reach the stateless functions too"
        );
    }
    let stateless_endpoints: BTreeSet<&str> = Endpoint::ALL
        .into_iter()
        .filter(|endpoint| {
            matches!(
                endpoint.route().handler,
                auth::routes::Handler::Stateless(_)
            )
        })
        .map(|endpoint| endpoint.function())
        .collect();
    assert_eq!(
        stateless_endpoints,
        STATELESS.into_iter().collect(),
        "the route table's stateless endpoints"
    );
    for binary in STATELESS {
        let function = function(&functions, binary);
        let endpoint = auth::Endpoint::ALL
            .into_iter()
            .find(|endpoint| endpoint.function() == binary)
            .unwrap_or_else(|| panic!("{binary} is an endpoint"));
        assert!(
            !endpoint.needs_app(),
            "the route table agrees that {binary} needs no database"
        );
        for key in ["VpcConfig", "Policies", "Role"] {
            assert!(
                function.properties().get(key).is_none(),
                "{}: {binary} needs no {key}",
                function.logical_id
            );
        }
        // The sign-in page names the providers on its buttons; no other setting reaches a page.
        let expected: &[&str] = if binary == "signin-page" {
            &["OIDC_PROVIDERS"]
        } else {
            &[]
        };
        assert_eq!(
            function.environment().into_keys().collect::<Vec<_>>(),
            expected,
            "{}: {binary}'s environment",
            function.logical_id
        );
        assert!(
            function.depends_on().is_empty(),
            "{}: nothing to wait for",
            function.logical_id
        );
    }
}

#[test]
fn database_functions_get_the_proxy_settings_and_wait_for_migrations() {
    let template = template();
    let functions = functions(&template);
    for function in &functions {
        let binary = function.binary();
        let id = &function.logical_id;
        let in_vpc = ACCESS
            .iter()
            .any(|(name, _, vpc, _)| *name == binary && *vpc);
        let uses_database = Endpoint::ALL
            .into_iter()
            .any(|e| e.function() == binary && e.needs_app())
            || BACKGROUND.contains(&binary);
        assert_eq!(
            in_vpc, uses_database,
            "{id}: in the VPC exactly when it uses the database"
        );
        if !uses_database {
            assert!(!env_has_database(function), "{id}: no database settings");
            continue;
        }
        let env = function.environment();
        for variable in [
            "DB_HOST",
            "DB_PORT",
            "DB_NAME",
            "DB_SECRET_ARN",
            "DB_SSLMODE",
            "DB_POOL_SIZE",
        ] {
            assert!(env.contains_key(variable), "{id}: {variable}");
        }
        assert!(
            mentions(env["DB_HOST"], "DatabaseProxy.Endpoint"),
            "{id}: DB_HOST is the RDS Proxy endpoint"
        );
        assert_eq!(env["DB_SSLMODE"].as_str(), Some("verify-full"), "{id}");
        assert_eq!(env["DB_POOL_SIZE"].as_str(), Some("1"), "{id}");
        let vpc = &function.properties()["VpcConfig"];
        assert!(
            vpc["SecurityGroupIds"]
                .as_sequence()
                .is_some_and(|groups| groups.iter().any(|g| is_ref_to(g, "FunctionSecurityGroup"))),
            "{id}: in the functions' security group"
        );
        assert!(
            vpc.get("SubnetIds").is_some(),
            "{id}: in the private subnets"
        );
        if binary == "migrate" {
            assert!(
                function.depends_on().is_empty(),
                "{id}: runs the migrations"
            );
        } else {
            // A `!GetAtt DatabaseMigrations.…` (the verifiers' public key) orders it as well.
            assert!(
                function.depends_on().contains(&"DatabaseMigrations")
                    || mentions(function.properties(), "DatabaseMigrations."),
                "{id}: waits for the schema (DependsOn: DatabaseMigrations)"
            );
        }
    }

    let migrations = &template["Resources"]["DatabaseMigrations"];
    assert_eq!(
        migrations["Type"].as_str(),
        Some("Custom::DatabaseMigrations")
    );
    let properties = &migrations["Properties"];
    assert!(
        mentions(&properties["ServiceToken"], "MigrateFunction.Arn"),
        "the custom resource invokes the migrate function"
    );
    assert!(
        is_ref_to(&properties["Revision"], "MigrateFunction.Version"),
        "the custom resource runs again when a new migrate version is published"
    );
    assert_eq!(
        function(&functions, "migrate").properties()["AutoPublishAlias"].as_str(),
        Some("live")
    );
}

fn env_has_database(function: &Function) -> bool {
    function.environment().keys().any(|k| k.starts_with("DB_"))
}

#[test]
fn every_template_function_has_a_log_group_with_retention() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let log_group_names: Vec<(String, &Value)> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Logs::LogGroup"))
        .filter_map(|r| {
            let (tag, name) = tagged(&r["Properties"]["LogGroupName"])?;
            let name = name.as_str().filter(|_| tag == "Sub")?;
            Some((name.to_owned(), &r["Properties"]["RetentionInDays"]))
        })
        .collect();
    for function in functions(&template) {
        let expected = format!("/aws/lambda/${{{}}}", function.logical_id);
        let retention = log_group_names
            .iter()
            .find(|(name, _)| *name == expected)
            .map(|(_, retention)| *retention)
            .unwrap_or_else(|| panic!("{}: no log group {expected}", function.logical_id));
        assert!(
            is_ref_to(retention, "LogRetentionInDays"),
            "{}: retention from the LogRetentionInDays parameter",
            function.logical_id
        );
    }
    assert!(
        Path::new(&format!("{WORKSPACE_DIR}/samconfig.toml")).is_file(),
        "samconfig.toml sits beside template.yaml"
    );
}

#[test]
fn the_janitor_runs_every_minute_by_default() {
    // Requests only queue reset emails for SES; the janitor's period is how long one may wait.
    let template = template();
    assert_eq!(
        template["Parameters"]["JanitorSchedule"]["Default"].as_str(),
        Some("rate(1 minute)")
    );
    let functions = functions(&template);
    let janitor = function(&functions, "janitor").resource;
    assert!(
        is_ref_to(
            &janitor["Properties"]["Events"]["Schedule"]["Properties"]["Schedule"],
            "JanitorSchedule"
        ),
        "the schedule comes from the JanitorSchedule parameter"
    );
}

#[test]
fn every_function_is_watched_by_an_errors_alarm_of_at_most_ten_metrics() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let mut watched = BTreeSet::new();
    for (id, alarm) in resources {
        if alarm["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let Some(metrics) = alarm["Properties"]["Metrics"].as_sequence() else {
            continue;
        };
        // CloudWatch refuses a metric math alarm with more than 10 metrics and expressions.
        assert!(metrics.len() <= 10, "{id:?}: {} metrics", metrics.len());
        for metric in metrics {
            let stat = &metric["MetricStat"]["Metric"];
            if stat["MetricName"].as_str() != Some("Errors") {
                continue;
            }
            for dimension in stat["Dimensions"].as_sequence().into_iter().flatten() {
                if let Some((tag, target)) = tagged(&dimension["Value"])
                    && tag == "Ref"
                {
                    watched.insert(target.as_str().unwrap().to_owned());
                }
            }
        }
    }
    for function in functions(&template) {
        assert!(
            watched.contains(&function.logical_id),
            "{}: in no errors alarm",
            function.logical_id
        );
    }
}

/// The routes anyone may write to without a token: each one costs a database round trip or an
/// Argon2 hash, so each gets a tight throttle of its own.
const PUBLIC_WRITES: [&str; 13] = [
    "signup",
    "signin",
    "mfa-verify",
    "passkey-signin-start",
    "passkey-signin-finish",
    "oauth-authorize",
    "oauth-callback",
    "oauth-callback-form",
    "oauth-token",
    "verify-email",
    "resend-verification",
    "forgot-password",
    "reset-password",
];
/// The routes that verify a token (and the JWKS their verifiers fetch): roomy.
const VERIFICATION: [&str; 22] = [
    "refresh",
    "introspect",
    "protected-example",
    "mfa-status",
    "mfa-totp-enroll",
    "mfa-totp-confirm",
    "mfa-totp-disable",
    "mfa-recovery-codes",
    "passkeys",
    "passkey-register-start",
    "passkey-register-finish",
    "delete-passkey",
    "identities",
    "delete-identity",
    "dashboard",
    "logout",
    "sessions",
    "end-session",
    "change-password",
    "change-email",
    "delete-account",
    "jwks",
];

/// The API Gateway route key of an endpoint: `METHOD /path`, or `$default` for the catch-all.
fn route_key(endpoint: Endpoint) -> String {
    match expected_route(endpoint) {
        (path, _) if path == "$default" => path,
        (path, method) => format!("{method} {path}"),
    }
}

/// A parameter's default, as a number.
fn default_of(template: &Value, parameter: &str) -> u64 {
    template["Parameters"][parameter]["Default"]
        .as_u64()
        .unwrap_or_else(|| panic!("parameter {parameter} has a numeric default"))
}

#[test]
fn every_route_has_a_throttle_of_its_own() {
    // One stage-wide throttle is shared by every caller and route: a flood of /api/public or of
    // 404s would get every sign-in answered 429 before the per-IP budgets ever count.
    let template = template();
    let settings = template["Resources"]["HttpApi"]["Properties"]["RouteSettings"]
        .as_mapping()
        .expect("HttpApi.RouteSettings: one throttle per route");
    let keys: BTreeSet<String> = settings
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = Endpoint::ALL.into_iter().map(route_key).collect();
    assert_eq!(
        keys, expected,
        "a throttle for every route, and only for routes"
    );
    let admin: Vec<&str> = ADMIN.iter().map(|(binary, ..)| *binary).collect();
    let classes = [
        ("PublicWrite", &PUBLIC_WRITES[..]),
        ("Verification", &VERIFICATION[..]),
        ("Admin", &admin[..]),
    ];
    for endpoint in Endpoint::ALL {
        let key = route_key(endpoint);
        let class = classes
            .iter()
            .find(|(_, members)| members.contains(&endpoint.function()))
            .map_or("PublicRead", |(class, _)| *class);
        for (property, limit) in [
            ("ThrottlingBurstLimit", "BurstLimit"),
            ("ThrottlingRateLimit", "RateLimit"),
        ] {
            assert!(
                is_ref_to(
                    &settings[key.as_str()][property],
                    &format!("{class}Throttling{limit}")
                ),
                "{key}: {property} is !Ref {class}Throttling{limit}"
            );
        }
    }
    for limit in ["BurstLimit", "RateLimit"] {
        let write = default_of(&template, &format!("PublicWriteThrottling{limit}"));
        let read = default_of(&template, &format!("PublicReadThrottling{limit}"));
        let verification = default_of(&template, &format!("VerificationThrottling{limit}"));
        assert!(
            write < verification && read < verification,
            "{limit}: tight on public writes ({write}) and reads ({read}), roomy on verification \
             ({verification})"
        );
        let admin = default_of(&template, &format!("AdminThrottling{limit}"));
        assert!(
            admin <= write,
            "{limit}: modest on the admin API ({admin}), no more than a public write ({write})"
        );
    }
}

#[test]
fn cloudfront_and_waf_are_optional_and_off_by_default() {
    let template = template();
    let parameter = &template["Parameters"]["EdgeProtection"];
    assert_eq!(
        parameter["Default"].as_str(),
        Some("false"),
        "off by default"
    );
    let resources = template["Resources"].as_mapping().unwrap();
    let of_type = |kind: &str| -> Vec<&Value> {
        resources
            .values()
            .filter(|r| r["Type"].as_str() == Some(kind))
            .collect()
    };
    let acls = of_type("AWS::WAFv2::WebACL");
    assert_eq!(acls.len(), 1, "one web ACL");
    let acl = acls[0];
    assert_eq!(acl["Condition"].as_str(), Some("UseEdgeProtection"));
    assert_eq!(acl["Properties"]["Scope"].as_str(), Some("CLOUDFRONT"));
    let rules = acl["Properties"]["Rules"].as_sequence().unwrap();
    assert!(
        rules.iter().any(|rule| {
            let rate = &rule["Statement"]["RateBasedStatement"];
            rate["AggregateKeyType"].as_str() == Some("IP")
                && is_ref_to(&rate["Limit"], "EdgeRateLimitPerIp")
                && rule["Action"].get("Block").is_some()
        }),
        "a rate-based rule per IP that blocks"
    );
    let distributions = of_type("AWS::CloudFront::Distribution");
    assert_eq!(distributions.len(), 1, "one distribution");
    assert_eq!(
        distributions[0]["Condition"].as_str(),
        Some("UseEdgeProtection")
    );
    assert!(
        mentions(
            &distributions[0]["Properties"]["DistributionConfig"]["WebACLId"],
            "Arn"
        ),
        "the distribution is behind the web ACL"
    );
    // Behind CloudFront, the API answers only through it: the execute-api URL is switched off.
    let disabled = &template["Resources"]["HttpApi"]["Properties"]["DisableExecuteApiEndpoint"];
    let (tag, branches) = tagged(disabled).expect("DisableExecuteApiEndpoint is !If");
    assert_eq!(tag, "If");
    assert_eq!(branches[0].as_str(), Some("UseEdgeProtection"));
    assert_eq!(branches[1].as_bool(), Some(true));
    assert_eq!(branches[2].as_bool(), Some(false));
}

#[test]
fn the_database_grows_its_storage_and_a_low_free_storage_alarms() {
    let template = template();
    let database = &template["Resources"]["Database"]["Properties"];
    let allocated: u64 = database["AllocatedStorage"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        is_ref_to(
            &database["MaxAllocatedStorage"],
            "DatabaseMaxAllocatedStorage"
        ),
        "storage autoscaling, up to the DatabaseMaxAllocatedStorage parameter"
    );
    assert!(default_of(&template, "DatabaseMaxAllocatedStorage") > allocated);
    let resources = template["Resources"].as_mapping().unwrap();
    let alarm = resources
        .values()
        .find(|r| {
            r["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                && r["Properties"]["MetricName"].as_str() == Some("FreeStorageSpace")
        })
        .expect("an alarm on FreeStorageSpace");
    let properties = &alarm["Properties"];
    assert_eq!(properties["Namespace"].as_str(), Some("AWS/RDS"));
    assert_eq!(
        properties["ComparisonOperator"].as_str(),
        Some("LessThanThreshold")
    );
    let dimension = &properties["Dimensions"][0];
    assert_eq!(dimension["Name"].as_str(), Some("DBInstanceIdentifier"));
    assert!(is_ref_to(&dimension["Value"], "Database"));
    // To the alarm topic, like every other alarm.
    for actions in ["AlarmActions", "OKActions"] {
        assert_eq!(
            properties[actions], template["Resources"]["Api5xxAlarm"]["Properties"][actions],
            "{actions} as the other alarms"
        );
    }
}

#[test]
fn checkov_runs_over_the_template_and_every_finding_left_is_justified() {
    let script =
        std::fs::read_to_string(format!("{WORKSPACE_DIR}/local/check-template.sh")).unwrap();
    assert!(
        script.contains("checkov --file template.yaml"),
        "local/check-template.sh runs checkov over the template"
    );
    let text = std::fs::read_to_string(format!("{WORKSPACE_DIR}/template.yaml")).unwrap();
    let skips: Vec<&str> = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("# checkov:skip="))
        .collect();
    assert!(
        !skips.is_empty(),
        "the template's accepted findings are inline"
    );
    for skip in skips {
        let (check, reason) = skip.split_once(':').unwrap_or((skip, ""));
        assert!(
            check.starts_with("CKV_AWS_") && reason.split_whitespace().count() >= 3,
            "checkov:skip={skip}: a check id and a reason"
        );
    }
}

#[test]
fn samconfig_overrides_only_parameters_the_template_has() {
    let template = template();
    let samconfig = std::fs::read_to_string(format!("{WORKSPACE_DIR}/samconfig.toml")).unwrap();
    let overrides: Vec<&str> = samconfig
        .lines()
        .filter_map(|line| line.trim().strip_prefix("parameter_overrides = "))
        .flat_map(|list| list.trim_matches('"').split_whitespace())
        .map(|pair| pair.split('=').next().unwrap())
        .collect();
    assert!(!overrides.is_empty(), "samconfig.toml overrides parameters");
    for name in overrides {
        assert!(
            template["Parameters"].get(name).is_some(),
            "samconfig.toml overrides {name}, which template.yaml does not have"
        );
    }
}

#[tokio::test]
async fn every_variable_the_template_sets_is_one_the_code_reads() {
    // A misspelt variable (JWT_PUBLIC_KEYS, say) would leave a function with a default instead.
    let read = auth::config::variables().await;
    let template = template();
    let globals = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    for function in functions(&template) {
        let names = function
            .environment()
            .into_keys()
            .chain(globals.iter().cloned())
            .collect::<BTreeSet<_>>();
        for name in names {
            assert!(
                read.contains(name.as_str()) || name == "RUST_LOG",
                "{}: {name} is read by no loader",
                function.logical_id
            );
        }
    }
}

#[test]
fn the_lambda_authorizer_guards_only_the_example_route_and_is_exported() {
    let template = template();
    let api = &template["Resources"]["HttpApi"]["Properties"]["Auth"];
    assert!(
        api.get("DefaultAuthorizer").is_none(),
        "no default authorizer: every other route keeps its own checks"
    );
    let authorizer = &api["Authorizers"]["BearerAuthorizer"];
    let (tag, target) = tagged(&authorizer["FunctionArn"]).expect("!GetAtt");
    assert_eq!(
        (tag.as_str(), target.as_str()),
        ("GetAtt", Some("AuthorizerFunction.Arn"))
    );
    assert_eq!(
        authorizer["AuthorizerPayloadFormatVersion"].as_str(),
        Some("2.0")
    );
    assert_eq!(authorizer["EnableSimpleResponses"].as_bool(), Some(true));
    assert_eq!(
        authorizer["EnableFunctionDefaultPermissions"].as_bool(),
        Some(true),
        "API Gateway may invoke it (SAM adds the permission only when asked)"
    );
    assert_eq!(
        authorizer["Identity"]["Headers"].as_sequence().unwrap(),
        &[Value::from("Authorization")]
    );
    assert!(is_ref_to(
        &authorizer["Identity"]["ReauthorizeEvery"],
        "AuthorizerCacheTtl"
    ));
    assert_eq!(
        default_of(&template, "AuthorizerCacheTtl"),
        0,
        "no cache by default: a revoked token is refused at once"
    );
    assert_eq!(
        template["Parameters"]["AuthorizerCacheTtl"]["MaxValue"].as_u64(),
        Some(3600)
    );

    // Exactly one route behind it: the example. (The AWS_IAM routes are the admin API's:
    // the_admin_routes_are_iam_authorized.)
    let guarded: Vec<String> = functions(&template)
        .iter()
        .filter(|function| {
            function.properties()["Events"]
                .as_mapping()
                .into_iter()
                .flatten()
                .any(|(_, event)| {
                    event["Properties"].get("Auth").is_some()
                        && event["Properties"]["Auth"]["Authorizer"].as_str() != Some("AWS_IAM")
                })
        })
        .map(|function| function.binary().to_owned())
        .collect();
    assert_eq!(guarded, ["protected-example"]);
    let example = functions(&template)
        .into_iter()
        .find(|function| function.binary() == "protected-example")
        .unwrap();
    assert_eq!(
        example.properties()["Events"]["Api"]["Properties"]["Auth"]["Authorizer"].as_str(),
        Some("BearerAuthorizer")
    );

    let output = &template["Outputs"]["AuthorizerFunctionArn"];
    let (tag, target) = tagged(&output["Value"]).expect("!GetAtt");
    assert_eq!(
        (tag.as_str(), target.as_str()),
        ("GetAtt", Some("AuthorizerFunction.Arn"))
    );
    assert!(
        mentions(&output["Export"]["Name"], "AuthorizerFunctionArn"),
        "exported for other stacks"
    );
}

#[test]
fn the_introspection_clients_secret_is_read_by_introspect_alone() {
    let template = template();
    assert_eq!(
        template["Parameters"]["IntrospectionClientsSecretArn"]["Default"].as_str(),
        Some("")
    );
    for function in functions(&template) {
        let reads = mentions(function.properties(), "IntrospectionClientsSecretArn");
        assert_eq!(
            reads,
            function.binary() == "introspect",
            "{}: the introspection clients' secret",
            function.logical_id
        );
    }
    let introspect = functions(&template)
        .into_iter()
        .find(|function| function.binary() == "introspect")
        .unwrap();
    let (tag, branches) = tagged(introspect.environment()["INTROSPECTION_CLIENTS_ARN"]).unwrap();
    assert_eq!(tag, "If", "set only when the parameter is");
    assert_eq!(branches[0].as_str(), Some("HasIntrospectionClients"));
    let statement = introspect.properties()["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|policy| tagged(policy))
        .find(|(tag, _)| tag == "If")
        .map(|(_, branches)| &branches[1]["Statement"][0])
        .expect("a conditional statement");
    assert_eq!(
        statement["Action"].as_str(),
        Some("secretsmanager:GetSecretValue")
    );
    assert!(is_ref_to(
        &statement["Resource"],
        "IntrospectionClientsSecretArn"
    ));
}

/// The functions with an admin route, from the template alone: every `HttpApi` event whose path
/// is under `/admin/`, as (binary, method, path).
fn admin_routes<'a>(functions: &'a [Function<'a>]) -> BTreeSet<(&'a str, String, String)> {
    functions
        .iter()
        .flat_map(|function| {
            function
                .http_api_routes()
                .into_iter()
                .filter(|(path, _)| path.starts_with("/admin/"))
                .map(move |(path, method)| (function.binary(), method, path))
        })
        .collect()
}

#[test]
fn the_admin_routes_are_iam_authorized() {
    let template = template();
    let api = &template["Resources"]["HttpApi"]["Properties"];
    // SAM takes AWS_IAM on a route for an authorizer's name unless the API enables it.
    assert_eq!(
        api["Auth"]["EnableIamAuthorizer"].as_bool(),
        Some(true),
        "HttpApi.Auth.EnableIamAuthorizer"
    );
    assert!(
        api["Auth"].get("DefaultAuthorizer").is_none(),
        "no default authorizer: IAM guards the admin routes only"
    );
    let functions = functions(&template);
    for function in &functions {
        for (name, event) in function.properties()["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let properties = &event["Properties"];
            let path = properties["Path"].as_str().unwrap_or_default();
            let iam = properties["Auth"]["Authorizer"].as_str() == Some("AWS_IAM");
            assert_eq!(
                iam,
                path.starts_with("/admin/"),
                "{}.Events.{}: AWS_IAM exactly on the admin routes ({path})",
                function.logical_id,
                name.as_str().unwrap_or("?")
            );
        }
    }
    let expected: BTreeSet<(&str, String, String)> = ADMIN
        .iter()
        .map(|(binary, method, path)| (*binary, (*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(
        admin_routes(&functions),
        expected,
        "exactly the eight admin routes, each to its own function"
    );
    for (binary, ..) in ADMIN {
        assert_eq!(
            function(&functions, binary).http_api_routes().len(),
            1,
            "{binary}: one route"
        );
    }

    // Throttled by their own modest pair of parameters.
    let settings = &api["RouteSettings"];
    for (_, method, path) in ADMIN {
        let key = format!("{method} {path}");
        for (property, parameter) in [
            ("ThrottlingBurstLimit", "AdminThrottlingBurstLimit"),
            ("ThrottlingRateLimit", "AdminThrottlingRateLimit"),
        ] {
            assert!(
                is_ref_to(&settings[key.as_str()][property], parameter),
                "{key}: {property} is !Ref {parameter}"
            );
        }
    }
    for parameter in ["AdminThrottlingBurstLimit", "AdminThrottlingRateLimit"] {
        let declared = &template["Parameters"][parameter];
        assert_eq!(declared["Type"].as_str(), Some("Number"), "{parameter}");
        assert_eq!(declared["MinValue"].as_u64(), Some(1), "{parameter}");
        assert!(
            declared["Description"].as_str().is_some(),
            "{parameter}: described"
        );
        assert!(
            mentions(
                &template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"],
                parameter
            ),
            "{parameter}: in a parameter group"
        );
    }
}

#[test]
fn admin_token_is_never_set_by_the_template() {
    // The local stand-in for IAM: with it set, a function accepts the token instead of the IAM
    // identity API Gateway checked (and one with a *_ARN variable refuses to start).
    let text = std::fs::read_to_string(format!("{WORKSPACE_DIR}/template.yaml")).unwrap();
    assert!(
        !text.contains("ADMIN_TOKEN"),
        "template.yaml names ADMIN_TOKEN"
    );
    let template = template();
    assert!(
        !mentions(&template["Globals"], "ADMIN_TOKEN"),
        "Globals set ADMIN_TOKEN"
    );
    for function in functions(&template) {
        assert!(
            !function
                .environment()
                .keys()
                .any(|name| name.contains("ADMIN_TOKEN")),
            "{}: ADMIN_TOKEN in the environment",
            function.logical_id
        );
    }
}

#[test]
fn the_admin_functions_read_the_database_and_nothing_else() {
    let template = template();
    let functions = functions(&template);
    for (binary, ..) in ADMIN {
        let function = function(&functions, binary);
        let id = &function.logical_id;
        let access = ACCESS
            .iter()
            .find(|(name, ..)| *name == binary)
            .unwrap_or_else(|| panic!("{binary}: not in ACCESS"));
        assert_eq!(
            (access.1, access.2, access.3),
            (&[RUNTIME][..], true, &[][..]),
            "{binary}: ACCESS says the runtime login only, in the VPC, no other action"
        );
        // One grant: the SAM read policy on the runtime login's secret.
        let policies = function.properties()["Policies"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{id}: Policies"));
        assert_eq!(policies.len(), 1, "{id}: one policy");
        assert!(
            is_ref_to(
                &policies[0]["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"],
                RUNTIME
            ),
            "{id}: read-only access to DatabaseRuntimeSecret"
        );
        let (secrets, actions) = grants(function);
        assert_eq!(secrets, BTreeSet::from([RUNTIME]), "{id}: its secrets");
        assert!(actions.is_empty(), "{id}: no other action: {actions:?}");
        assert!(
            !mentions(function.properties(), "ses:"),
            "{id}: no SES permission (the janitor sends)"
        );
        // The database settings, and an email's only to queue one.
        let mut expected = vec![
            "DB_HOST",
            "DB_NAME",
            "DB_POOL_SIZE",
            "DB_PORT",
            "DB_SECRET_ARN",
            "DB_SSLMODE",
        ];
        if binary == "admin-reset-mfa" {
            expected.extend(["EMAIL_FROM", "EMAIL_TRANSPORT"]);
        }
        expected.sort_unstable();
        let env = function.environment();
        assert_eq!(
            env.keys().map(String::as_str).collect::<Vec<_>>(),
            expected,
            "{id}: its environment (no key, no JWT setting)"
        );
        assert!(is_ref_to(env["DB_SECRET_ARN"], RUNTIME), "{id}");
        assert!(
            mentions(env["DB_HOST"], "DatabaseProxy.Endpoint"),
            "{id}: the proxy"
        );
        assert_eq!(env["DB_SSLMODE"].as_str(), Some("verify-full"), "{id}");
        assert_eq!(env["DB_POOL_SIZE"].as_str(), Some("1"), "{id}");
        if binary == "admin-reset-mfa" {
            assert_eq!(env["EMAIL_TRANSPORT"].as_str(), Some("ses"), "{id}");
            assert!(is_ref_to(env["EMAIL_FROM"], "EmailFrom"), "{id}");
        }
        assert_eq!(
            refs(&function.properties()["VpcConfig"]["SecurityGroupIds"]),
            BTreeSet::from(["FunctionSecurityGroup".to_owned()]),
            "{id}: the functions' security group, no way out"
        );
        assert_eq!(
            function.depends_on(),
            ["DatabaseMigrations"],
            "{id}: waits for the schema"
        );
    }
}

#[test]
fn the_admin_functions_have_an_errors_alarm_of_their_own() {
    let template = template();
    let functions = functions(&template);
    let alarm = &template["Resources"]["AdminFunctionErrorsAlarm"]["Properties"];
    let watched: BTreeSet<String> = alarm["Metrics"]
        .as_sequence()
        .expect("AdminFunctionErrorsAlarm: metric math")
        .iter()
        .filter_map(|metric| {
            let stat = &metric["MetricStat"]["Metric"];
            (stat["MetricName"].as_str() == Some("Errors"))
                .then(|| tagged(&stat["Dimensions"][0]["Value"]))
                .flatten()
                .and_then(|(_, target)| target.as_str().map(str::to_owned))
        })
        .collect();
    let expected: BTreeSet<String> = ADMIN
        .iter()
        .map(|(binary, ..)| function(&functions, binary).logical_id.clone())
        .collect();
    assert_eq!(watched, expected, "the eight admin functions' Errors");
    for actions in ["AlarmActions", "OKActions"] {
        assert_eq!(
            alarm[actions], template["Resources"]["Api5xxAlarm"]["Properties"][actions],
            "{actions} as the other alarms"
        );
    }
}

#[test]
fn the_admin_api_arn_is_an_output_for_operators_iam_policies() {
    let template = template();
    let output = &template["Outputs"]["AdminApiArn"];
    let (tag, value) = tagged(&output["Value"]).expect("AdminApiArn is !Sub");
    assert_eq!(tag, "Sub");
    // Every stage and method of every path under /admin/ of this API, and nothing else.
    assert_eq!(
        value.as_str(),
        Some(
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*/*/admin/*"
        )
    );
    let description = output["Description"].as_str().unwrap_or_default();
    assert!(
        description.contains("execute-api:Invoke") && description.contains("IAM policy"),
        "says what it is for: {description}"
    );
    assert!(
        mentions(&output["Export"]["Name"], "AdminApiArn"),
        "exported for other stacks"
    );
}

#[test]
fn the_functions_that_hash_passwords_get_one_full_vcpu_and_the_others_the_smallest_size() {
    let template = template();
    assert_eq!(
        template["Globals"]["Function"]["MemorySize"].as_u64(),
        Some(128),
        "the default: Lambda's smallest, for the functions that wait on the database (the \
         benchmark holds every function's peak RSS under half of its size)"
    );
    let hashing: BTreeSet<&str> = Endpoint::ALL
        .into_iter()
        .filter(|endpoint| endpoint.hashes_passwords())
        .map(Endpoint::function)
        .collect();
    assert_eq!(
        hashing,
        BTreeSet::from([
            "signup",
            "signin",
            "reset-password",
            "change-password",
            "change-email",
            "delete-account"
        ]),
        "every route that runs Argon2id on a password"
    );
    for function in functions(&template) {
        let memory = function.properties()["MemorySize"].as_u64();
        // Lambda gives one full vCPU at 1,769 MB: below it Argon2id stretches by 1,769 / memory.
        // migrate, run once per deploy and not measured by the benchmark, keeps 256 MB.
        let expected = if hashing.contains(function.binary()) {
            Some(1769)
        } else if function.binary() == "migrate" {
            Some(256)
        } else {
            None
        };
        assert_eq!(
            memory,
            expected,
            "{}: {} MB",
            function.logical_id,
            memory.map_or("the default".to_owned(), |m| m.to_string())
        );
    }
}
