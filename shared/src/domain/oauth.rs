//! Sign-in through an OpenID Connect provider, as the requests carry it: the provider's name in
//! the path, the app's PKCE challenge (RFC 7636, S256 only) and later its verifier, and the
//! `redirect_to` the app asks to be sent back to, which must be on the allowlist exactly.
//!
//! Parsing says nothing about why a value was refused: the caller answers with its own code
//! (`unknown_provider`, `invalid_redirect`, `invalid_grant`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::UserName;

/// Longest provider name: it becomes part of environment variable names (`OIDC_<NAME>_ISSUER`).
const MAX_PROVIDER_CHARS: usize = 32;

/// A provider's name as configured in `OIDC_PROVIDERS` and used in paths: 1 to 32 characters of
/// `a-z`, `0-9` and `_`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderName(String);

impl ProviderName {
    pub fn parse(raw: &str) -> Option<Self> {
        let mut chars = raw.chars();
        let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let valid = first_is_letter
            && raw.len() <= MAX_PROVIDER_CHARS
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        valid.then(|| ProviderName(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix of its settings: `OIDC_<NAME>_`.
    pub fn variable_prefix(&self) -> String {
        format!("OIDC_{}_", self.0.to_ascii_uppercase())
    }
}

/// The app's PKCE code challenge: `BASE64URL(SHA-256(code_verifier))`, 43 characters. Only the
/// `S256` method: `plain` would hand the verifier to whoever sees the authorize URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// The `code_challenge` and `code_challenge_method` query parameters; the method must be
    /// `S256`.
    pub fn parse(challenge: &str, method: &str) -> Option<Self> {
        let shaped = challenge.len() == 43
            && URL_SAFE_NO_PAD
                .decode(challenge)
                .is_ok_and(|digest| digest.len() == 32);
        (method == "S256" && shaped).then(|| CodeChallenge(challenge.to_owned()))
    }

    /// A challenge as stored (it was parsed on the way in).
    pub fn from_stored(challenge: String) -> Self {
        CodeChallenge(challenge)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` is the one this challenge was made from (RFC 7636 §4.6): 43 to 128
    /// unreserved characters whose SHA-256, in base64url, is the challenge. Compared in constant
    /// time.
    pub fn is_verified_by(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        well_formed && bool::from(computed.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

/// A `redirect_to` that is exactly on `OAUTH_REDIRECT_ALLOWLIST`: nothing else is ever redirected
/// to (no open redirect), not even a prefix or a case variant of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectTarget(String);

impl RedirectTarget {
    /// `raw` when the allowlist holds it exactly.
    pub fn allowed(raw: &str, allowlist: &[String]) -> Option<Self> {
        allowlist
            .iter()
            .any(|entry| entry == raw)
            .then(|| RedirectTarget(raw.to_owned()))
    }

    /// A target as stored with its flow (it was on the allowlist when the flow began).
    pub fn from_stored(target: String) -> Self {
        RedirectTarget(target)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name in Apple's `user` form field (`{"name":{"firstName":…,"lastName":…},"email":…}`),
/// which Apple posts beside the code at a person's first sign-in only, never in the ID token.
/// Only the name is taken (the address comes from the signed token); anything else is no name.
pub fn apple_user_name(user: &str) -> Option<UserName> {
    let user: serde_json::Value = serde_json::from_str(user).ok()?;
    let name = user.get("name")?;
    let full = ["firstName", "lastName"]
        .into_iter()
        .filter_map(|part| name.get(part)?.as_str())
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    UserName::parse(&full).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_verifies_and_nothing_else_does() {
        let challenge = CodeChallenge::parse(CHALLENGE, "S256").unwrap();
        assert!(challenge.is_verified_by(VERIFIER));
        assert!(!challenge.is_verified_by(&VERIFIER[1..]));
        assert!(!challenge.is_verified_by(CHALLENGE));
        assert_eq!(CodeChallenge::parse(CHALLENGE, "plain"), None);
        assert_eq!(CodeChallenge::parse(CHALLENGE, "s256"), None);
        assert_eq!(CodeChallenge::parse(&CHALLENGE[1..], "S256"), None);
    }

    #[test]
    fn provider_names_are_lower_case_identifiers() {
        for good in ["google", "okta", "azure_ad", "k8s"] {
            assert_eq!(ProviderName::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "Google", "9lives", "a-b", "a b", "ö", &"a".repeat(33)] {
            assert_eq!(ProviderName::parse(bad), None, "{bad}");
        }
        assert_eq!(
            ProviderName::parse("azure_ad").unwrap().variable_prefix(),
            "OIDC_AZURE_AD_"
        );
    }

    #[test]
    fn only_an_exact_allowlist_entry_is_a_target() {
        let allowlist = vec!["https://app.example.com/auth/callback".to_owned()];
        assert!(
            RedirectTarget::allowed("https://app.example.com/auth/callback", &allowlist).is_some()
        );
        for off in [
            "https://app.example.com/auth/callback/",
            "https://app.example.com/auth/callback?x=1",
            "https://APP.example.com/auth/callback",
            "https://app.example.com.evil.com/auth/callback",
            "https://app.example.com/auth",
            "",
        ] {
            assert_eq!(RedirectTarget::allowed(off, &allowlist), None, "{off}");
        }
    }

    proptest! {
        #[test]
        fn a_verifier_verifies_its_own_challenge_only(
            verifier in "[A-Za-z0-9._~-]{43,128}",
            other in "[A-Za-z0-9._~-]{43,128}",
        ) {
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            let challenge = CodeChallenge::parse(&challenge, "S256").unwrap();
            prop_assert!(challenge.is_verified_by(&verifier));
            prop_assert_eq!(challenge.is_verified_by(&other), other == verifier);
        }

        #[test]
        fn parsers_take_any_string_without_panicking(raw in any::<String>(), method in any::<String>()) {
            if let Some(name) = ProviderName::parse(&raw) {
                prop_assert!(name.as_str().len() <= MAX_PROVIDER_CHARS);
            }
            if let Some(challenge) = CodeChallenge::parse(&raw, &method) {
                prop_assert_eq!(challenge.as_str().len(), 43);
                prop_assert_eq!(method, "S256");
            }
            if let Some(name) = apple_user_name(&raw) {
                prop_assert_eq!(UserName::parse(name.as_str()).ok(), Some(name));
            }
        }

        #[test]
        fn apples_user_field_gives_the_name_it_holds(
            first in "[A-Za-z]{1,20}",
            last in "[A-Za-z]{0,20}",
        ) {
            let user = serde_json::json!({
                "name": {"firstName": first, "lastName": last},
                "email": "someone@privaterelay.appleid.com",
            });
            let name = apple_user_name(&user.to_string()).unwrap();
            let expected = format!("{first} {last}");
            prop_assert_eq!(name.as_str(), expected.trim());
        }
    }

    #[test]
    fn apples_user_field_without_a_usable_name_gives_none() {
        for user in [
            "",
            "not json",
            "[]",
            r#"{"email":"a@example.com"}"#,
            r#"{"name":{}}"#,
            r#"{"name":{"firstName":"  ","lastName":""}}"#,
            r#"{"name":{"firstName":1}}"#,
            r#"{"name":"Pat"}"#,
        ] {
            assert_eq!(apple_user_name(user), None, "{user}");
        }
        let control = serde_json::json!({"name": {"firstName": "Pat\u{7}"}}).to_string();
        assert_eq!(
            apple_user_name(&control),
            None,
            "a control character is no name"
        );
    }
}
