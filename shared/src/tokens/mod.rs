//! Tokens: signed JWT access tokens ([`access`]), opaque refresh/reset/confirmation tokens stored
//! only as hashes ([`opaque`]) and the 6-digit codes of confirmation emails ([`code`]). The keys they are signed with are parsed in [`crate::keys`].

mod access;
mod code;
mod opaque;

pub use access::{AccessTokenSigner, SignedAccessToken, VerifiedAccess};
pub use code::{CodeHash, CodeKey};
pub use opaque::{OpaqueToken, TokenHash};
