//! How strongly a session was authenticated: its authenticator assurance level (NIST SP 800-63B
//! `aal1`/`aal2`) and the methods used (RFC 8176 `amr` values), carried by its access tokens.

use serde::{Deserialize, Serialize};

/// `aal1`: one factor (the password, or a single-factor key); `aal2`: two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aal {
    Aal1,
    Aal2,
}

/// One way the user proved who they are (RFC 8176 names where there is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Pwd,
    Otp,
    RecoveryCode,
    Webauthn,
    /// Signed in by an OpenID Connect provider (the provider named by `idp`).
    Oidc,
}

/// A session's assurance: what its access tokens say, and what `aal2`-only operations check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assurance {
    pub aal: Aal,
    pub amr: Vec<AuthMethod>,
    /// The OpenID provider that signed the user in (`idp` claim), when one did.
    pub idp: Option<String>,
}

impl Aal {
    pub fn as_str(self) -> &'static str {
        match self {
            Aal::Aal1 => "aal1",
            Aal::Aal2 => "aal2",
        }
    }

    /// The stored form back; `None` for anything else (a database the code does not know).
    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "aal1" => Some(Aal::Aal1),
            "aal2" => Some(Aal::Aal2),
            _ => None,
        }
    }
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Pwd => "pwd",
            AuthMethod::Otp => "otp",
            AuthMethod::RecoveryCode => "recovery_code",
            AuthMethod::Webauthn => "webauthn",
            AuthMethod::Oidc => "oidc",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        [
            AuthMethod::Pwd,
            AuthMethod::Otp,
            AuthMethod::RecoveryCode,
            AuthMethod::Webauthn,
            AuthMethod::Oidc,
        ]
        .into_iter()
        .find(|method| method.as_str() == stored)
    }
}

impl Assurance {
    /// A password sign-in: one factor.
    pub fn password() -> Self {
        Assurance {
            aal: Aal::Aal1,
            amr: vec![AuthMethod::Pwd],
            idp: None,
        }
    }

    /// The stored `aal`, `amr` and `idp` of a session; `None` if `aal` or `amr` holds a value
    /// this code does not know.
    pub fn from_stored(aal: &str, amr: &[String], idp: Option<String>) -> Option<Self> {
        Some(Assurance {
            aal: Aal::parse(aal)?,
            amr: amr
                .iter()
                .map(|method| AuthMethod::parse(method))
                .collect::<Option<_>>()?,
            idp,
        })
    }

    /// The `amr` values as stored and as the token carries them.
    pub fn amr_strs(&self) -> Vec<&'static str> {
        self.amr.iter().map(|method| method.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assurance_round_trips_through_its_stored_form() {
        let two = Assurance {
            aal: Aal::Aal2,
            amr: vec![AuthMethod::Pwd, AuthMethod::RecoveryCode],
            idp: None,
        };
        let stored: Vec<String> = two.amr_strs().iter().map(|s| s.to_string()).collect();
        assert_eq!(stored, ["pwd", "recovery_code"]);
        assert_eq!(Assurance::from_stored("aal2", &stored, None), Some(two));
        assert_eq!(Assurance::from_stored("aal3", &stored, None), None);
        assert_eq!(
            Assurance::from_stored("aal1", &["sms".to_owned()], None),
            None
        );
        assert_eq!(
            serde_json::to_string(&Assurance::password().aal).unwrap(),
            "\"aal1\""
        );
        assert_eq!(
            serde_json::to_string(&AuthMethod::RecoveryCode).unwrap(),
            "\"recovery_code\""
        );
    }
}
