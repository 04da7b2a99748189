//! The access-token signing key kept in Secrets Manager (the SAM stack's `JwtSigningKey`):
//! CloudFormation cannot make an Ed25519 PEM, so the deploy's custom resource generates one into
//! the empty secret, once. A key already there is never replaced: rotating is the operator's move.

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::aws::Aws;
use crate::keys::PrivateKey;

/// What [`ensure`] found or did; the `kid` names the key without revealing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    /// The secret was empty; a new Ed25519 key was put in it.
    Generated { kid: String },
    /// The secret already held a usable key; left as it was.
    Kept { kid: String },
}

/// Makes sure the secret `secret_id` holds a signing key: generates an Ed25519 key when the secret
/// has no value yet, checks the key otherwise. A value that is not a usable key is an error, not
/// a reason to overwrite it.
pub async fn ensure(aws: &Aws, secret_id: &str) -> anyhow::Result<Ensured> {
    let client = aws_sdk_secretsmanager::Client::new(aws.sdk().await);
    let description = client
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(aws_sdk_secretsmanager::Error::from)
        .context("DescribeSecret failed")?;
    let has_value = description.version_ids_to_stages().is_some_and(|versions| {
        versions
            .values()
            .any(|stages| stages.iter().any(|stage| stage == "AWSCURRENT"))
    });
    if has_value {
        let pem = aws.secret_string(secret_id).await?;
        let key = PrivateKey::from_pem(pem.expose_secret()).context(
            "the signing-key secret holds a value that is not a usable key; it was left unchanged",
        )?;
        let kid = key.public_key().kid().to_owned();
        tracing::info!(%kid, "signing key already in Secrets Manager; kept");
        return Ok(Ensured::Kept { kid });
    }
    let pem = PrivateKey::generate_ed25519_pem()?;
    let kid = PrivateKey::from_pem(pem.expose_secret())?
        .public_key()
        .kid()
        .to_owned();
    client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(pem.expose_secret())
        .send()
        .await
        .map_err(aws_sdk_secretsmanager::Error::from)
        .context("PutSecretValue failed")?;
    tracing::info!(%kid, "generated a new Ed25519 signing key into Secrets Manager");
    Ok(Ensured::Generated { kid })
}
