//! TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, ±1 step of clock skew) through
//! `totp-rs`: new 160-bit secrets, the `otpauth://` URI and its QR code for authenticator apps,
//! and the time step a code matches — which the store accepts only once per account.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretSlice};
use totp_rs::{Algorithm, Builder, Totp};

use crate::domain::TotpCode;
use crate::error::ApiError;

/// Bytes of a new secret: 160 bits, RFC 4226's recommendation.
pub const SECRET_BYTES: usize = 20;
/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;

/// A TOTP secret: generated here, shown once (as base32 and in the URI), then only sealed.
pub struct TotpSecret(SecretSlice<u8>);

impl TotpSecret {
    /// A new secret from the OS random source.
    pub fn generate() -> Result<Self, ApiError> {
        let mut bytes = vec![0u8; SECRET_BYTES];
        OsRng.try_fill_bytes(&mut bytes).map_err(|e| {
            ApiError::Internal(anyhow::Error::new(e).context("reading the OS random source"))
        })?;
        Ok(TotpSecret(bytes.into()))
    }

    /// The secret as it was opened from the database.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        TotpSecret(bytes.into())
    }

    pub fn expose_bytes(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

/// An account's TOTP generator: `issuer` and `account` name it in the authenticator app.
pub struct Authenticator(Totp);

impl Authenticator {
    pub fn new(secret: &TotpSecret, issuer: &str, account: &str) -> Result<Self, ApiError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(STEP_SECONDS)
            .with_secret(secret.expose_bytes().to_vec())
            .with_issuer(Some(issuer))
            .with_account_name(account)
            .build()
            .map(Authenticator)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("a TOTP generator: {e}")))
    }

    /// The time step (Unix time / 30) that `code` matches at `now` (Unix seconds), within one step
    /// either side; `None` for a wrong code.
    pub fn matching_step(&self, code: &TotpCode, now: u64) -> Option<u64> {
        self.0.check(code.as_str(), now)
    }

    /// The code of the step `now` falls in (tests, and the README's one-liner, make theirs so).
    pub fn code_at(&self, now: u64) -> String {
        self.0.generate(now).to_string()
    }

    /// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…`, what the QR code holds.
    pub fn otpauth_uri(&self) -> Result<String, ApiError> {
        self.0
            .to_url()
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("an otpauth URI: {e}")))
    }

    /// The secret in base32, for typing into an app by hand.
    pub fn secret_base32(&self) -> String {
        self.0.secret().to_base32()
    }

    /// The URI's QR code as an SVG document (no XML prolog: it goes into JSON, and into a page).
    pub fn qr_svg(&self) -> Result<String, ApiError> {
        let uri = self.otpauth_uri()?;
        let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("a QR code of the URI: {e}")))?;
        let document = code
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .quiet_zone(true)
            .build();
        Ok(match document.find("<svg") {
            Some(start) => document[start..].to_owned(),
            None => document,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret "12345678901234567890".
    fn rfc() -> Authenticator {
        Authenticator::new(
            &TotpSecret::from_bytes(b"12345678901234567890".to_vec()),
            "Example",
            "jane@example.com",
        )
        .unwrap()
    }

    #[test]
    fn codes_are_rfc_6238_with_six_digits() {
        // Appendix B's 8-digit values, last six digits.
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(rfc().code_at(time), code, "{time}");
        }
    }

    #[test]
    fn a_code_matches_its_step_and_the_next_and_previous_ones_only() {
        let totp = rfc();
        let now = 1_111_111_109;
        let step = now / STEP_SECONDS;
        let code = TotpCode::parse(&totp.code_at(now)).unwrap();
        assert_eq!(totp.matching_step(&code, now), Some(step));
        assert_eq!(
            totp.matching_step(&code, now + 30),
            Some(step),
            "a step late"
        );
        assert_eq!(
            totp.matching_step(&code, now - 30),
            Some(step),
            "a step early"
        );
        assert_eq!(totp.matching_step(&code, now + 60), None, "two steps late");
        let wrong = TotpCode::parse("000000").unwrap();
        assert_ne!(totp.code_at(now), "000000");
        assert_eq!(totp.matching_step(&wrong, now), None);
    }

    #[test]
    fn the_uri_and_qr_code_carry_the_secret_for_an_app() {
        let secret = TotpSecret::generate().unwrap();
        assert_eq!(secret.expose_bytes().len(), 20);
        let totp = Authenticator::new(&secret, "Example Auth", "jane@example.com").unwrap();
        let uri = totp.otpauth_uri().unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(
            uri.contains(&format!("secret={}", totp.secret_base32())),
            "{uri}"
        );
        assert!(uri.contains("issuer=Example%20Auth"), "{uri}");
        let svg = totp.qr_svg().unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{svg}"
        );
    }
}
