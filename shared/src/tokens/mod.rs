//! Tokens: signed JWT access tokens ([`access`]) and opaque refresh/reset tokens stored only as
//! hashes ([`opaque`]). The keys they are signed with are parsed in [`crate::keys`].

mod access;
mod opaque;

pub use access::{AccessTokenSigner, SignedAccessToken, VerifiedAccess};
pub use opaque::{OpaqueToken, TokenHash};
