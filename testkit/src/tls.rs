//! A throwaway certificate authority and the server certificate it signs, for a PostgreSQL served
//! with TLS on loopback: clients trust the CA's certificate alone (`DB_SSLROOTCERT`) and verify
//! the host name, as the functions verify RDS Proxy's in AWS.

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The names the server certificate is valid for: the host name the functions connect to
/// (`DB_HOST=localhost`, resolved as a DNS name is in AWS) and the loopback address.
pub const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// A CA's certificate, and a server certificate and key it signed, all PEM. ECDSA P-256 (ring
/// makes no RSA keys): RDS Proxy serves an RSA-2048 certificate, whose handshake costs the client
/// a little less (an RSA signature checks faster than an ECDSA one) and the server more.
pub struct ServerCertificate {
    pub ca_pem: String,
    pub certificate_pem: String,
    pub key_pem: String,
}

impl ServerCertificate {
    /// A new CA, used once: signs one certificate for [`SERVER_NAMES`], then its key is dropped.
    pub fn generate() -> anyhow::Result<ServerCertificate> {
        let ca_key = KeyPair::generate().context("generating the CA's key")?;
        let mut ca = CertificateParams::default();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "testkit throwaway CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_pem = ca.self_signed(&ca_key).context("signing the CA")?.pem();

        let server_key = KeyPair::generate().context("generating the server's key")?;
        let mut server = CertificateParams::new(SERVER_NAMES.map(str::to_owned).to_vec())
            .context("the server's names")?;
        server
            .distinguished_name
            .push(DnType::CommonName, SERVER_NAMES[0]);
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.use_authority_key_identifier_extension = true;
        let certificate_pem = server
            .signed_by(&server_key, &Issuer::new(ca, ca_key))
            .context("signing the server certificate")?
            .pem();
        Ok(ServerCertificate {
            ca_pem,
            certificate_pem,
            key_pem: server_key.serialize_pem(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_generations_are_two_different_cas() {
        let (a, b) = (
            ServerCertificate::generate().unwrap(),
            ServerCertificate::generate().unwrap(),
        );
        assert_ne!(a.ca_pem, b.ca_pem);
        assert!(a.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(a.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(a.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }
}
