//! The production-shaped cold starts' environment: each function configured as `template.yaml`
//! configures it in AWS, with the local stand-ins for what AWS provides. The database over TLS
//! with the certificate verified (`DB_SSLMODE=verify-full`, the host name `localhost`, the
//! throwaway CA of the bench's cluster as `DB_SSLROOTCERT`), every `*_ARN` a secret in moto's
//! Secrets Manager read through the SDK at cold start over HTTPS (the same CA as `AWS_CA_BUNDLE`),
//! the SDK configured from the variables Lambda sets, `EMAIL_FROM` a verified identity in moto's
//! SES, and `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` the function's `MemorySize`. Nothing else of the
//! stack's environment reaches a function, so a variable the template forgets is missed here too.

use std::collections::BTreeMap;
use std::str::FromStr;

use anyhow::Context;
use serde_json::json;
use serde_yaml_ng::Value as Yaml;

/// The stack's variables each function gets besides the template's: the providers' settings,
/// which the template leaves to the operator to add (`OIDC_<NAME>_*`), and the raised request
/// budgets, since every one of the bench's requests comes from one address.
const FROM_THE_STACK: [&str; 6] = [
    "OIDC_",
    "RATE_LIMIT_SIGNUP",
    "RATE_LIMIT_SIGNIN",
    "RATE_LIMIT_PASSKEY_SIGNIN",
    "RATE_LIMIT_FORGOT_PASSWORD",
    "RESET_EMAILS_PER_WINDOW",
];

/// The functions' `EMAIL_FROM` (the template's `EmailFrom`, which has no default): a verified
/// identity in moto's SES.
const SENDER: &str = "no-reply@bench.invalid";

/// What stands in for AWS: `make bench` sets both.
pub struct StandIns {
    /// `BENCH_DB_ROOTCERT`: the PEM of the CA the certificates of the bench's PostgreSQL and
    /// moto chain to (`DB_SSLROOTCERT` and `AWS_CA_BUNDLE`).
    pub root_certificate: String,
    /// `MOTO_ENDPOINT_URL`: moto on loopback over HTTPS, the Secrets Manager the functions read.
    pub moto: String,
}

/// Each function's whole environment, by binary name.
pub struct Production {
    environments: BTreeMap<String, Vec<(String, String)>>,
}

impl Production {
    /// `None` outside `make bench` (no `BENCH_DB_ROOTCERT`): the step is then not measured.
    pub fn from_env() -> anyhow::Result<Option<Production>> {
        let (Ok(root_certificate), Ok(moto)) = (
            std::env::var("BENCH_DB_ROOTCERT"),
            std::env::var("MOTO_ENDPOINT_URL"),
        ) else {
            return Ok(None);
        };
        let stack: BTreeMap<String, String> = std::env::vars().collect();
        let stand_ins = StandIns {
            root_certificate,
            moto,
        };
        let moto = Moto::new(&stand_ins)?;
        let secrets = moto.store_secrets(&stack)?;
        moto.verify_sender(SENDER)?;
        let template: Yaml = serde_yaml_ng::from_str(include_str!("../../../template.yaml"))?;
        Ok(Some(Production {
            environments: environments(&template, &stack, &stand_ins, &secrets)?,
        }))
    }

    /// The environment of `function`'s process (no other variable reaches it).
    pub fn environment(&self, function: &str) -> anyhow::Result<&[(String, String)]> {
        self.environments
            .get(function)
            .map(Vec::as_slice)
            .with_context(|| format!("{function} is not a function of template.yaml"))
    }
}

/// The ARN of each secret the template names, by the variable that names it.
pub struct Secrets(BTreeMap<&'static str, String>);

/// moto, reached through the product's SDK configuration over HTTPS under the bench's CA.
struct Moto {
    secrets: aws_sdk_secretsmanager::Client,
    ses: aws_sdk_sesv2::Client,
    runtime: tokio::runtime::Runtime,
}

impl Moto {
    fn new(stand_ins: &StandIns) -> anyhow::Result<Moto> {
        let sdk = auth::aws::lambda_sdk_config(|name| {
            aws_environment(stand_ins)
                .into_iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| value.to_owned())
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Moto {
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            ses: aws_sdk_sesv2::Client::new(&sdk),
            runtime,
        })
    }

    /// Stores the stack's secrets: the runtime role's login in the RDS-managed secret's form, the
    /// signing key, the code key, the MFA key and the introspection clients.
    fn store_secrets(&self, stack: &BTreeMap<String, String>) -> anyhow::Result<Secrets> {
        let get = |name: &str| {
            stack
                .get(name)
                .cloned()
                .with_context(|| format!("{name} is not in the stack's environment"))
        };
        let login = tokio_postgres::Config::from_str(&get("DATABASE_URL")?)?;
        let password = login
            .get_password()
            .context("the stack's DATABASE_URL has no password")?;
        let database = json!({
            "username": login.get_user().context("no user in DATABASE_URL")?,
            "password": String::from_utf8(password.to_vec())?,
        });
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let mut arns = BTreeMap::new();
        for (variable, value) in [
            ("DB_SECRET_ARN", database.to_string()),
            ("JWT_PRIVATE_KEY_ARN", get("JWT_PRIVATE_KEY")?),
            ("VERIFICATION_CODE_KEY_ARN", get("VERIFICATION_CODE_KEY")?),
            ("MFA_ENCRYPTION_KEY_ARN", get("MFA_ENCRYPTION_KEY")?),
            ("INTROSPECTION_CLIENTS_ARN", get("INTROSPECTION_CLIENTS")?),
        ] {
            let created = self
                .runtime
                .block_on(
                    self.secrets
                        .create_secret()
                        .name(format!("bench-{suffix}/{variable}"))
                        .secret_string(value)
                        .send(),
                )
                .map_err(aws_sdk_secretsmanager::Error::from)
                .with_context(|| format!("storing {variable}'s secret in moto"))?;
            let arn = created.arn.context("moto's answer has no ARN")?;
            arns.insert(variable, arn);
        }
        Ok(Secrets(arns))
    }

    /// Makes `address` a verified SES identity, as the operator does before deploying
    /// (`EmailFrom`): else SES refuses every email the janitor sends, and each sweep retries
    /// them all, five times over.
    fn verify_sender(&self, address: &str) -> anyhow::Result<()> {
        self.runtime
            .block_on(
                self.ses
                    .create_email_identity()
                    .email_identity(address)
                    .send(),
            )
            .map_err(aws_sdk_sesv2::Error::from)
            .with_context(|| format!("verifying {address} in moto's SES"))?;
        Ok(())
    }
}

/// The SDK's variables, as Lambda sets them for the execution role (moto takes any keys), with
/// moto as the endpoint and the bench's CA as the only root.
fn aws_environment(stand_ins: &StandIns) -> [(&'static str, &str); 7] {
    [
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_ENDPOINT_URL", stand_ins.moto.as_str()),
        ("AWS_CA_BUNDLE", stand_ins.root_certificate.as_str()),
    ]
}

/// Every function's environment: the template's variables (its `Globals` first, then its own)
/// with each CloudFormation expression given its local value, then the stand-ins for what Lambda
/// and the rest of AWS provide.
fn environments(
    template: &Yaml,
    stack: &BTreeMap<String, String>,
    stand_ins: &StandIns,
    secrets: &Secrets,
) -> anyhow::Result<BTreeMap<String, Vec<(String, String)>>> {
    let memory = crate::budgets::memory_sizes()?;
    let login = tokio_postgres::Config::from_str(
        stack
            .get("DATABASE_URL")
            .context("DATABASE_URL is not in the stack's environment")?,
    )?;
    let port = login
        .get_ports()
        .first()
        .context("no port in the stack's DATABASE_URL")?
        .to_string();
    let database = login
        .get_dbname()
        .context("no database in the stack's DATABASE_URL")?
        .to_owned();
    let public_key = auth::keys::PrivateKey::from_pem(
        stack
            .get("JWT_PRIVATE_KEY")
            .context("JWT_PRIVATE_KEY is not in the stack's environment")?,
    )?
    .public_key()
    .pem()
    .to_owned();
    // The values AWS gives the template's expressions, by the variable they are assigned to.
    let local = |variable: &str| -> Option<String> {
        match variable {
            "DB_HOST" => Some("localhost".to_owned()),
            "DB_NAME" => Some(database.clone()),
            "JWT_PUBLIC_KEY" => Some(public_key.clone()),
            // A parameter without a default, which the operator gives at deploy.
            "EMAIL_FROM" => Some(SENDER.to_owned()),
            arn if arn.ends_with("_ARN") => secrets.0.get(arn).cloned(),
            other => stack.get(other).cloned(),
        }
    };
    let parameters = &template["Parameters"];
    let globals = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .cloned()
        .unwrap_or_default();
    let mut environments = BTreeMap::new();
    let resources = template["Resources"]
        .as_mapping()
        .context("the template has Resources")?;
    for resource in resources.values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .context("a function without Metadata.BuildProperties.Binary")?;
        let own = resource["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .cloned()
            .unwrap_or_default();
        let mut variables = BTreeMap::new();
        for (name, value) in globals.iter().chain(own.iter()) {
            let name = name.as_str().context("a variable name that is no string")?;
            let value = match value {
                Yaml::String(text) => Some(text.clone()),
                Yaml::Number(number) => Some(number.to_string()),
                Yaml::Bool(flag) => Some(flag.to_string()),
                // An expression: the local value, else a parameter's default.
                expression => local(name).or_else(|| parameter_default(parameters, expression)),
            };
            match value {
                Some(value) => variables.insert(name.to_owned(), value),
                None => variables.remove(name),
            };
        }
        if variables.contains_key("DB_HOST") {
            variables.insert("DB_PORT".to_owned(), port.clone());
            variables.insert(
                "DB_SSLROOTCERT".to_owned(),
                stand_ins.root_certificate.clone(),
            );
        }
        for (name, value) in stack {
            if FROM_THE_STACK.iter().any(|prefix| name.starts_with(prefix))
                && (!name.starts_with("OIDC_") || variables.contains_key("OIDC_PROVIDERS"))
            {
                variables.insert(name.clone(), value.clone());
            }
        }
        for (name, value) in aws_environment(stand_ins) {
            variables.insert(name.to_owned(), value.to_owned());
        }
        let memory = memory
            .get(binary)
            .with_context(|| format!("{binary}: no MemorySize"))?;
        variables.insert(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
            memory.to_string(),
        );
        environments.insert(binary.to_owned(), variables.into_iter().collect());
    }
    Ok(environments)
}

/// `!Ref Parameter`'s default, when it has a non-empty one; other expressions have none.
fn parameter_default(parameters: &Yaml, expression: &Yaml) -> Option<String> {
    let Yaml::Tagged(tagged) = expression else {
        return None;
    };
    if tagged.tag != "Ref" {
        return None;
    }
    let default = &parameters[tagged.value.as_str()?]["Default"];
    let text = match default {
        Yaml::String(text) => text.clone(),
        Yaml::Number(number) => number.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Yaml {
        serde_yaml_ng::from_str(include_str!("../../../template.yaml")).unwrap()
    }

    fn stack() -> BTreeMap<String, String> {
        [
            (
                "DATABASE_URL",
                "postgres://auth_runtime:pw@127.0.0.1:45432/bench_bin_x",
            ),
            ("JWT_PRIVATE_KEY", testkit::keys::ED25519_A),
            ("OIDC_PROVIDERS", "local"),
            ("OIDC_LOCAL_ISSUER", "http://127.0.0.1:9/"),
            ("RATE_LIMIT_SIGNIN", "1000"),
            ("ADMIN_TOKEN", "never-in-production"),
            ("VERIFY_URL", "http://127.0.0.1:1/verify-email"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn secrets() -> Secrets {
        Secrets(
            [
                ("DB_SECRET_ARN", "arn:db"),
                ("JWT_PRIVATE_KEY_ARN", "arn:jwt"),
                ("VERIFICATION_CODE_KEY_ARN", "arn:code"),
                ("MFA_ENCRYPTION_KEY_ARN", "arn:mfa"),
                ("INTROSPECTION_CLIENTS_ARN", "arn:introspection"),
            ]
            .into_iter()
            .map(|(k, v)| (k, v.to_owned()))
            .collect(),
        )
    }

    fn environment(function: &str) -> BTreeMap<String, String> {
        let stand_ins = StandIns {
            root_certificate: "/tmp/ca.pem".to_owned(),
            moto: "http://127.0.0.1:5000".to_owned(),
        };
        let all = environments(&template(), &stack(), &stand_ins, &secrets()).unwrap();
        all[function].iter().cloned().collect()
    }

    #[test]
    fn a_signing_function_reads_its_secrets_over_tls_as_in_aws() {
        let signin = environment("signin");
        for (name, value) in [
            ("DB_HOST", "localhost"),
            ("DB_PORT", "45432"),
            ("DB_NAME", "bench_bin_x"),
            ("DB_SSLMODE", "verify-full"),
            ("DB_SSLROOTCERT", "/tmp/ca.pem"),
            ("DB_SECRET_ARN", "arn:db"),
            ("JWT_PRIVATE_KEY_ARN", "arn:jwt"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_CA_BUNDLE", "/tmp/ca.pem"),
            ("RATE_LIMIT_SIGNIN", "1000"),
        ] {
            assert_eq!(signin.get(name).map(String::as_str), Some(value), "{name}");
        }
        for absent in [
            "DATABASE_URL",
            "JWT_PRIVATE_KEY",
            "ADMIN_TOKEN",
            "OIDC_LOCAL_ISSUER",
        ] {
            assert!(!signin.contains_key(absent), "{absent}");
        }
        assert_eq!(
            signin["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
            crate::budgets::memory_sizes().unwrap()["signin"].to_string()
        );
    }

    #[test]
    fn a_verifier_gets_the_public_key_and_a_provider_function_its_settings() {
        let dashboard = environment("dashboard");
        assert!(dashboard["JWT_PUBLIC_KEY"].starts_with("-----BEGIN PUBLIC KEY-----"));
        assert!(!dashboard.contains_key("JWT_PRIVATE_KEY_ARN"));
        let signup = environment("signup");
        assert_eq!(signup["EMAIL_TRANSPORT"], "ses");
        assert!(
            signup.contains_key("EMAIL_FROM"),
            "the operator's parameter"
        );
        let authorize = environment("oauth-authorize");
        assert_eq!(authorize["OIDC_LOCAL_ISSUER"], "http://127.0.0.1:9/");
        let root = environment("root");
        assert!(!root.contains_key("DB_HOST"), "stateless: no database");
        assert!(!root.contains_key("DB_SSLROOTCERT"));
    }

    #[test]
    fn expressions_without_a_local_value_take_their_parameter_default_or_nothing() {
        let template = template();
        let reference =
            |name: &str| -> Yaml { serde_yaml_ng::from_str(&format!("!Ref {name}")).unwrap() };
        assert_eq!(
            parameter_default(&template["Parameters"], &reference("RustLog")),
            template["Parameters"]["RustLog"]["Default"]
                .as_str()
                .map(str::to_owned)
        );
        assert_eq!(
            parameter_default(&template["Parameters"], &reference("NoSuchParameter")),
            None
        );
    }
}
