//! The certificates a TLS server's chain must end in, and the rustls client configuration that
//! trusts them: one answer for the database (`DB_SSLROOTCERT`) and for AWS's endpoints
//! (`AWS_CA_BUNDLE`).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// Whom a TLS client trusts.
#[derive(Clone)]
pub enum TrustedRoots {
    /// The Mozilla roots compiled in (webpki-roots), which AWS's endpoints and RDS Proxy's ACM
    /// certificates chain to: production's, with nothing read from disk and no bundle to ship.
    Mozilla,
    /// Only the certificates of a PEM file: a private CA (an emulator, a proxy, the throwaway CA
    /// `make bench` serves its PostgreSQL and moto with). Stricter than the default, never
    /// looser: the host name is still verified.
    File {
        path: PathBuf,
        store: Arc<RootCertStore>,
    },
}

impl TrustedRoots {
    /// The certificates of the PEM file at `path`; why not, when it cannot be read or holds no
    /// certificate rustls can use as a root (the caller names the variable that pointed here).
    pub fn from_pem_file(path: &str) -> Result<TrustedRoots, String> {
        let certificates = CertificateDer::pem_file_iter(path)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|error| format!("{path} cannot be read as PEM certificates ({error})"))?;
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(certificates);
        if store.is_empty() {
            return Err(format!("{path} holds no usable certificate"));
        }
        Ok(TrustedRoots::File {
            path: PathBuf::from(path),
            store: Arc::new(store),
        })
    }

    /// A client configuration trusting these roots: ring (the one crypto library every binary
    /// links), rustls's safe default protocol versions, no client certificate.
    pub fn client_config(&self) -> ClientConfig {
        let store = match self {
            TrustedRoots::Mozilla => Arc::new(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }),
            TrustedRoots::File { store, .. } => Arc::clone(store),
        };
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports rustls's default protocol versions")
            .with_root_certificates(store)
            .with_no_client_auth()
    }
}

impl PartialEq for TrustedRoots {
    fn eq(&self, other: &TrustedRoots) -> bool {
        match (self, other) {
            (TrustedRoots::Mozilla, TrustedRoots::Mozilla) => true,
            (
                TrustedRoots::File { path, store },
                TrustedRoots::File {
                    path: other_path,
                    store: other_store,
                },
            ) => path == other_path && store.roots == other_store.roots,
            _ => false,
        }
    }
}

impl Eq for TrustedRoots {}

impl fmt::Debug for TrustedRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustedRoots::Mozilla => f.write_str("Mozilla"),
            TrustedRoots::File { path, store } => f
                .debug_struct("File")
                .field("path", path)
                .field("certificates", &store.len())
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("roots-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn a_pem_file_of_certificates_is_trusted_alone() {
        let generated = testkit::tls::ServerCertificate::generate().unwrap();
        let path = temp_file(&generated.ca_pem);
        let roots = TrustedRoots::from_pem_file(path.to_str().unwrap()).unwrap();
        let TrustedRoots::File { store, .. } = &roots else {
            panic!("{roots:?}")
        };
        assert_eq!(store.len(), 1);
        assert_eq!(
            roots,
            TrustedRoots::from_pem_file(path.to_str().unwrap()).unwrap()
        );
        assert_ne!(roots, TrustedRoots::Mozilla);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_missing_file_or_one_without_a_certificate_says_which_and_why() {
        let missing = TrustedRoots::from_pem_file("/nonexistent/roots.pem").unwrap_err();
        assert!(
            missing.starts_with("/nonexistent/roots.pem cannot be read"),
            "{missing}"
        );
        let empty = temp_file("no certificate here\n");
        let why = TrustedRoots::from_pem_file(empty.to_str().unwrap()).unwrap_err();
        assert!(why.ends_with("holds no usable certificate"), "{why}");
        std::fs::remove_file(empty).unwrap();
    }
}
