//! The test signing keys, made by another implementation (openssl); see `testkit/keys/README.md`.
//! Never used outside tests.

/// Ed25519, the key tests sign with by default when they want a key ring.
pub const ED25519_A: &str = include_str!("../keys/ed25519-a.pem");
pub const ED25519_A_PUBLIC: &str = include_str!("../keys/ed25519-a.pub.pem");
/// Another Ed25519 key: the one rotated to.
pub const ED25519_B: &str = include_str!("../keys/ed25519-b.pem");
pub const ED25519_B_PUBLIC: &str = include_str!("../keys/ed25519-b.pub.pem");
/// P-256 (ES256).
pub const P256: &str = include_str!("../keys/p256.pem");
pub const P256_PUBLIC: &str = include_str!("../keys/p256.pub.pem");
/// P-384: a curve the API refuses.
pub const P384: &str = include_str!("../keys/p384.pem");
/// The HS256 secret test apps sign with unless told otherwise.
pub const TEST_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
/// The key test apps store the codes of confirmation emails under.
pub const TEST_CODE_KEY: &str = "test-verification-code-key-of-32-bytes-at-least";
/// `MFA_ENCRYPTION_KEY` of the tests: the bytes 0 to 31, in base64.
pub const TEST_MFA_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
