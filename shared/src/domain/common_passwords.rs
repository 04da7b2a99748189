//! The bundled list of common passwords: Django's list of the most frequent leaked passwords, kept
//! to those of 8 or more characters (source, licence and derivation: `shared/data/common-passwords/`).

use std::sync::LazyLock;

/// One lower-cased entry a line, sorted by bytes: what `str`'s `Ord` and `binary_search` expect.
/// Embedded as plain text (80 KiB): only the binaries that set passwords link it, and it needs no
/// decompression at start-up.
const LIST: &str = include_str!("../../data/common-passwords/common-passwords.txt");

/// Indexed on first use, so functions that never set a password never pay for it.
static ENTRIES: LazyLock<Vec<&'static str>> = LazyLock::new(|| LIST.lines().collect());

/// True when the password, in any letter case, is on the list.
pub(super) fn contains(password: &str) -> bool {
    ENTRIES
        .binary_search(&password.to_lowercase().as_str())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use sha2::{Digest, Sha256};

    use super::*;

    /// The source file as taken from the Django 5.2.19 wheel on PyPI.
    const SOURCE: &[u8] =
        include_bytes!("../../data/common-passwords/django-common-passwords.txt.gz");
    /// Its SHA-256, as the wheel's `RECORD` lists it (there in base64url).
    const SOURCE_SHA256: &str = "3c1baed62596de36860824eb3f436d5932d37ca8b06e59df78f5a44ec175afe4";

    #[test]
    fn the_source_is_djangos_file_byte_for_byte() {
        let digest: String = Sha256::digest(SOURCE)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, SOURCE_SHA256);
    }

    #[test]
    fn the_embedded_list_is_derived_from_the_source_by_the_documented_rule() {
        let mut text = String::new();
        flate2::read::GzDecoder::new(SOURCE)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text.lines().count(), 19_640, "the whole of Django's list");
        let mut expected: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|entry| entry.chars().count() >= 8)
            .collect();
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(
            *ENTRIES, expected,
            "regenerate common-passwords.txt (see its README)"
        );
    }

    #[test]
    fn entries_are_lower_case_so_that_each_can_match() {
        let unreachable: Vec<&&str> = ENTRIES
            .iter()
            .filter(|entry| entry.to_lowercase() != **entry)
            .collect();
        assert!(unreachable.is_empty(), "{unreachable:?}");
    }

    #[test]
    fn known_common_passwords_match_in_any_case() {
        for password in [
            "password123",
            "PASSWORD123",
            "Password123",
            "qwerty123",
            "QwErTy123",
            "iloveyou1",
            "trustno1",
            "letmein1",
            "1q2w3e4r5t",
            "qwertyuiop",
            "sunshine",
        ] {
            assert!(contains(password), "{password}");
        }
    }

    #[test]
    fn uncommon_passwords_do_not_match() {
        for password in [
            "SecurePass123",
            "correct horse battery staple",
            "password1234567890xyz",
            " password123",
            "password123 ",
        ] {
            assert!(!contains(password), "{password:?}");
        }
    }
}
