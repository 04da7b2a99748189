//! Tokens: signed JWT access tokens ([`access`]), opaque refresh/reset/confirmation tokens stored
//! only as hashes ([`opaque`]), the 6-digit codes of confirmation emails ([`code`]) and the
//! recovery codes of the second factor ([`recovery`]), TOTP ([`totp`]) and its secrets sealed at
//! rest ([`sealed`]). The keys they are signed with are parsed
//! in [`crate::keys`].

mod access;
mod code;
mod opaque;
mod recovery;
mod sealed;
mod totp;

pub use access::{AccessTokenSigner, SignedAccessToken, VerifiedAccess};
pub use code::{CodeHash, CodeKey};
pub use opaque::{OpaqueToken, TokenHash};
pub use recovery::{RECOVERY_CODES_PER_SET, RecoveryHash, RecoveryKey, generate_recovery_codes};
pub use sealed::{Sealed, SealingKey, SealingKeys, new_key_base64};
pub use totp::{Authenticator, STEP_SECONDS, TotpSecret};
