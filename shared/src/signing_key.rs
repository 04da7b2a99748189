//! The keys the deploy generates into Secrets Manager: the access-token signing key (the SAM
//! stack's `JwtSigningKey`) and the key of the second factors (`MfaEncryptionKey`).
//! CloudFormation can make neither an Ed25519 PEM nor 32 random bytes in base64, so the deploy's
//! custom resource generates each into its empty secret, once. A key already there is never
//! replaced: rotating is the operator's move.

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::aws::Aws;
use crate::keys::PrivateKey;

/// What [`ensure`] found or did; the `kid` names the key without revealing it, `public_key` is
/// its public half as a PEM, which the deploy hands the functions that only verify tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    /// The secret was empty; a new Ed25519 key was put in it.
    Generated { kid: String, public_key: String },
    /// The secret already held a usable key; left as it was.
    Kept { kid: String, public_key: String },
}

impl Ensured {
    /// The public half of the key in the secret (SubjectPublicKeyInfo PEM).
    pub fn public_key(&self) -> &str {
        match self {
            Ensured::Generated { public_key, .. } | Ensured::Kept { public_key, .. } => public_key,
        }
    }
}

/// Makes sure the secret `secret_id` holds a signing key: generates an Ed25519 key when the secret
/// has no value yet, checks the key otherwise. A value that is not a usable key is an error, not
/// a reason to overwrite it.
pub async fn ensure(aws: &Aws, secret_id: &str) -> anyhow::Result<Ensured> {
    let client = aws_sdk_secretsmanager::Client::new(aws.sdk().await);
    if has_value(&client, secret_id).await? {
        let pem = aws.secret_string(secret_id).await?;
        let key = PrivateKey::from_pem(pem.expose_secret()).context(
            "the signing-key secret holds a value that is not a usable key; it was left unchanged",
        )?;
        let kid = key.public_key().kid().to_owned();
        tracing::info!(%kid, "signing key already in Secrets Manager; kept");
        return Ok(Ensured::Kept {
            kid,
            public_key: key.public_key().pem().to_owned(),
        });
    }
    let pem = PrivateKey::generate_ed25519_pem()?;
    let key = PrivateKey::from_pem(pem.expose_secret())?;
    let kid = key.public_key().kid().to_owned();
    put_value(&client, secret_id, pem.expose_secret()).await?;
    tracing::info!(%kid, "generated a new Ed25519 signing key into Secrets Manager");
    Ok(Ensured::Generated {
        kid,
        public_key: key.public_key().pem().to_owned(),
    })
}

/// Makes sure the secret `secret_id` holds a key made by `generate`: generates one when the
/// secret has no value yet, checks the one there with `check` otherwise. True when a key was
/// generated. A value `check` refuses is an error, never overwritten: it may be the key of
/// everything sealed so far. (The deploy fills the MFA key this way: see
/// [`crate::lambda::ensure_mfa_key`].)
pub async fn ensure_generated<E>(
    aws: &Aws,
    secret_id: &str,
    check: impl FnOnce(&secrecy::SecretString) -> Result<(), E>,
    generate: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<bool>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let client = aws_sdk_secretsmanager::Client::new(aws.sdk().await);
    if has_value(&client, secret_id).await? {
        let key = aws.secret_string(secret_id).await?;
        check(&key)
            .context("the secret holds a value that is not such a key; it was left unchanged")?;
        tracing::info!(secret_id, "key already in Secrets Manager; kept");
        return Ok(false);
    }
    put_value(&client, secret_id, &generate()?).await?;
    tracing::info!(secret_id, "generated a new key into Secrets Manager");
    Ok(true)
}

/// Whether the secret has a current value (one created empty has none).
async fn has_value(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> anyhow::Result<bool> {
    let description = client
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(aws_sdk_secretsmanager::Error::from)
        .context("DescribeSecret failed")?;
    Ok(description.version_ids_to_stages().is_some_and(|versions| {
        versions
            .values()
            .any(|stages| stages.iter().any(|stage| stage == "AWSCURRENT"))
    }))
}

async fn put_value(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    value: &str,
) -> anyhow::Result<()> {
    client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(value)
        .send()
        .await
        .map_err(aws_sdk_secretsmanager::Error::from)
        .context("PutSecretValue failed")?;
    Ok(())
}
