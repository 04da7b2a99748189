//! Password hashing: Argon2id with OWASP's parameters, run off the async executor.

use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::TryRngCore;
use rand::rngs::OsRng;

use crate::domain::Password;

/// OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB, 2 iterations, 1 lane. The one place
/// these are set; tests use the same, so what is tested is what runs.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// Verified against when the email is unknown, so that path costs one Argon2 run as well and
/// timing does not reveal which accounts exist. Its parameters equal the real ones (unit-tested);
/// it is a constant rather than computed at start-up to keep cold starts cheap.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZS1kdW1teS1zYWx0$5QRXZbbJf1c8bKx4Y6uTQx1HGhcbzuBUZ0Nj4Fz3r9o";

fn params() -> Params {
    Params::new(MEMORY_KIB, ITERATIONS, LANES, None).expect("valid Argon2 parameters")
}

/// Argon2's working memory (19 MiB at today's parameters), allocated once per process and reused
/// by every hash and verification. Allocated per call, as the `argon2` crate's own `hash_password`
/// does, it piled up: once the first 19 MiB block is freed, glibc raises its mmap threshold above
/// it, later blocks come from malloc arenas that keep them, and a sign-in function's peak RSS
/// passed 120 MiB (`make bench` measures it). A Lambda instance serves one request at a time, so
/// one buffer serves them all; concurrent callers in one process (tests) take turns.
static MEMORY: Mutex<Vec<Block>> = Mutex::new(Vec::new());

/// [`MEMORY`], at least `blocks` long: zero-filled as it grows, so every page of it is touched
/// then.
fn memory(blocks: usize) -> MutexGuard<'static, Vec<Block>> {
    let mut memory = MEMORY.lock().unwrap_or_else(PoisonError::into_inner);
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    memory
}

/// Makes [`MEMORY`] ready for today's parameters, its 19 MiB faulted in: a function that hashes
/// runs this on the blocking pool during its init, beside its secrets' reads, instead of in its
/// first request's hash.
pub fn reserve_memory() {
    drop(memory(params().block_count()));
}

/// The PHC hash of `password` with `salt`, computed in [`MEMORY`]; what
/// `PasswordHasher::hash_password` computes, without a fresh allocation per call.
fn hash_in_shared_memory<'a>(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: Salt<'a>,
) -> password_hash::Result<PasswordHash<'a>> {
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buffer)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let blocks = params.block_count();
    let phc_params = ParamsString::try_from(&params)?;
    let argon2 = Argon2::new(algorithm, version, params);
    let mut memory = memory(blocks);
    let output = Output::init_with(output_len, |out| {
        Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..])?)
    })?;
    Ok(PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: phc_params,
        salt: Some(salt),
        hash: Some(output),
    })
}

/// Whether `password` matches a parsed PHC hash: recomputed with the hash's own algorithm,
/// version and parameters (so old hashes keep working if the constants are raised), compared in
/// constant time (`Output`'s equality).
fn matches(password: &[u8], stored: &PasswordHash<'_>) -> password_hash::Result<bool> {
    let algorithm = Algorithm::try_from(stored.algorithm)?;
    let version = stored
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return Ok(false);
    };
    let computed = hash_in_shared_memory(
        algorithm,
        version,
        Params::try_from(stored)?,
        password,
        salt,
    )?;
    Ok(computed.hash == Some(expected))
}

/// A PHC-format Argon2id hash of a password (`$argon2id$v=19$m=...`).
#[derive(Debug, Clone)]
pub struct PasswordHashString(pub(crate) String);

impl PasswordHashString {
    /// Wraps a hash read from storage.
    pub fn from_stored(hash: String) -> Self {
        PasswordHashString(hash)
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Hashes a password with a fresh random salt, on the blocking pool.
pub async fn hash(password: Password) -> anyhow::Result<PasswordHashString> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        OsRng
            .try_fill_bytes(&mut salt)
            .context("reading the OS random source")?;
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("encoding salt: {e}"))?;
        let hash = hash_in_shared_memory(
            Algorithm::Argon2id,
            Version::V0x13,
            params(),
            password.expose().as_bytes(),
            salt.as_salt(),
        )
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?;
        Ok(PasswordHashString(hash.to_string()))
    })
    .await
    .context("password hashing task panicked")?
}

/// True when a stored hash is weaker than what [`hash`] makes now: not Argon2id version 0x13, or
/// memory, iterations, lanes or output length below the current values; also when it cannot be
/// read. Sign-in then stores a fresh hash of the password it has just verified. Stronger hashes
/// are left as they are: lowering the constants must not churn every account.
pub fn needs_rehash(stored: &PasswordHashString) -> bool {
    let Ok(parsed) = PasswordHash::new(stored.as_str()) else {
        return true;
    };
    // A PHC string without `v=` is version 0x10 in the reference implementation (the `argon2`
    // crate would assume 0x13): count it as old.
    if parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13 as u32)
    {
        return true;
    }
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    params.m_cost() < MEMORY_KIB
        || params.t_cost() < ITERATIONS
        || params.p_cost() < LANES
        || parsed
            .hash
            .is_none_or(|output| output.len() < Params::DEFAULT_OUTPUT_LEN)
}

/// Checks a password against a stored hash, or against the dummy hash when there is none,
/// so the answer costs the same either way. Returns `false` when there was no stored hash.
pub async fn verify(
    password: Password,
    stored: Option<PasswordHashString>,
) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.map_or_else(|| DUMMY_HASH.to_owned(), |h| h.0);
        let parsed = PasswordHash::new(&phc)
            .map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
        // As the `argon2` crate's verify_password: a hash it cannot recompute does not match.
        let matches = matches(password.expose().as_bytes(), &parsed).unwrap_or(false);
        Ok(known && matches)
    })
    .await
    .context("password verification task panicked")?
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    fn password(raw: &str) -> Password {
        Password::parse(raw).unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify_accepts_only_the_same_password() {
        let stored = hash(password("correct horse battery")).await.unwrap();
        assert!(
            stored
                .as_str()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        assert!(
            verify(password("correct horse battery"), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(password("correct horse batterY"), Some(stored))
                .await
                .unwrap()
        );
    }

    /// The shared-memory computation is the `argon2` crate's own: each side verifies the other's
    /// hashes, for today's parameters and for older, weaker ones.
    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crates_own_hasher_and_verifier() {
        let ours = hash(password("correct horse battery")).await.unwrap();
        let parsed = PasswordHash::new(ours.as_str()).unwrap();
        Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .expect("the crate verifies our hash");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse batterY", &parsed)
                .is_err()
        );
        for theirs in [
            hash_with(
                Algorithm::Argon2id,
                Version::V0x13,
                params(MEMORY_KIB, ITERATIONS, LANES, 32),
            ),
            hash_with(
                Algorithm::Argon2id,
                Version::V0x10,
                params(MEMORY_KIB, ITERATIONS, LANES, 32),
            ),
            hash_with(Algorithm::Argon2i, Version::V0x13, params(8, 1, 1, 16)),
            hash_with(
                Algorithm::Argon2id,
                Version::V0x13,
                params(MEMORY_KIB * 2, 1, 2, 64),
            ),
        ] {
            assert!(
                verify(password("any password"), Some(theirs.clone()))
                    .await
                    .unwrap(),
                "{}",
                theirs.as_str()
            );
            assert!(
                !verify(password("any passwore"), Some(theirs.clone()))
                    .await
                    .unwrap(),
                "{}",
                theirs.as_str()
            );
        }
    }

    #[tokio::test]
    async fn salts_differ_between_hashes() {
        let a = hash(password("same password")).await.unwrap();
        let b = hash(password("same password")).await.unwrap();
        assert_ne!(a.as_str(), b.as_str());
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        assert!(!verify(password("any password at all"), None).await.unwrap());
    }

    /// A PHC hash of "any password" made with the given algorithm, version and parameters.
    fn hash_with(algorithm: Algorithm, version: Version, params: Params) -> PasswordHashString {
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let hash = Argon2::new(algorithm, version, params)
            .hash_password(b"any password", &salt)
            .unwrap();
        PasswordHashString(hash.to_string())
    }

    fn params(m: u32, t: u32, p: u32, output: usize) -> Params {
        Params::new(m, t, p, Some(output)).unwrap()
    }

    #[tokio::test]
    async fn hashes_made_now_need_no_rehash() {
        let stored = hash(password("correct horse battery")).await.unwrap();
        assert!(!needs_rehash(&stored));
        assert!(!needs_rehash(&PasswordHashString(DUMMY_HASH.to_owned())));
    }

    #[test]
    fn weaker_hashes_need_a_rehash() {
        let current = || params(MEMORY_KIB, ITERATIONS, LANES, 32);
        let cases = [
            (
                hash_with(
                    Algorithm::Argon2id,
                    Version::V0x13,
                    params(MEMORY_KIB / 2, ITERATIONS, LANES, 32),
                ),
                "less memory",
            ),
            (
                hash_with(
                    Algorithm::Argon2id,
                    Version::V0x13,
                    params(MEMORY_KIB, ITERATIONS - 1, LANES, 32),
                ),
                "fewer iterations",
            ),
            (
                hash_with(
                    Algorithm::Argon2id,
                    Version::V0x13,
                    params(MEMORY_KIB, ITERATIONS, LANES, 16),
                ),
                "shorter output",
            ),
            (
                hash_with(Algorithm::Argon2i, Version::V0x13, current()),
                "Argon2i",
            ),
            (
                hash_with(Algorithm::Argon2d, Version::V0x13, current()),
                "Argon2d",
            ),
            (
                hash_with(Algorithm::Argon2id, Version::V0x10, current()),
                "version 0x10",
            ),
        ];
        for (stored, why) in cases {
            assert!(needs_rehash(&stored), "{why}: {}", stored.as_str());
        }
    }

    #[test]
    fn a_hash_without_a_version_or_unreadable_needs_a_rehash() {
        let current = DUMMY_HASH.replace("$v=19", "");
        assert!(PasswordHash::new(&current).is_ok(), "{current}");
        for (stored, why) in [(current.as_str(), "no v="), ("not a PHC string", "garbage")] {
            assert!(
                needs_rehash(&PasswordHashString(stored.to_owned())),
                "{why}"
            );
        }
    }

    #[test]
    fn stronger_hashes_are_left_alone() {
        let stronger = hash_with(
            Algorithm::Argon2id,
            Version::V0x13,
            params(MEMORY_KIB * 2, ITERATIONS + 1, LANES + 1, 64),
        );
        assert!(!needs_rehash(&stronger), "{}", stronger.as_str());
    }

    #[test]
    fn dummy_hash_uses_the_production_parameters() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let params = Params::try_from(&dummy).unwrap();
        assert_eq!(dummy.algorithm.as_str(), "argon2id");
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (MEMORY_KIB, ITERATIONS, LANES)
        );
        assert_eq!(params.output_len(), Some(32));
    }
}
