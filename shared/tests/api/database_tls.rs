//! `DB_SSLMODE=verify-full` against a PostgreSQL served with TLS under a throwaway CA: trusted only
//! through `DB_SSLROOTCERT`, refused under any other root, and the sessions really encrypted.

use testkit::cluster::Cluster;
use testkit::tls::ServerCertificate;

/// The cluster's superuser at `localhost` (a name its certificate carries), database `postgres`.
fn url(cluster: &Cluster) -> String {
    format!(
        "postgres://postgres:{}@localhost:{}/postgres",
        cluster.password(),
        cluster.port()
    )
}

/// Opens one pooled connection with the configuration of `overrides`; the error as text.
async fn first_connection(
    cluster: &Cluster,
    overrides: &[(&str, &str)],
) -> Result<deadpool_postgres::Object, String> {
    let config = testkit::config::load(&url(cluster), overrides).await;
    let pool = auth::db::pool(&config.database).map_err(|e| format!("{e:#}"))?;
    pool.get().await.map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn verify_full_trusts_the_root_certificate_file_alone() {
    let cluster = tokio::task::spawn_blocking(Cluster::start_with_tls)
        .await
        .unwrap()
        .unwrap();
    let ca = cluster.root_certificate().unwrap().to_str().unwrap();
    let verify = ("DB_SSLMODE", "verify-full");

    let client = first_connection(&cluster, &[verify, ("DB_SSLROOTCERT", ca)])
        .await
        .unwrap();
    let row = client
        .query_one(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>("ssl"), "the session is encrypted");
    assert_eq!(
        row.get::<_, Option<String>>("version").as_deref(),
        Some("TLSv1.3")
    );

    // The compiled-in Mozilla roots do not include the throwaway CA.
    let mozilla = first_connection(&cluster, &[verify]).await.unwrap_err();
    assert!(mozilla.contains("UnknownIssuer"), "{mozilla}");

    // Another CA's certificate in the file: refused too (same name as the real issuer, so rustls
    // finds it and the signature does not check).
    let other = std::env::temp_dir().join(format!("other-ca-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&other, ServerCertificate::generate().unwrap().ca_pem).unwrap();
    let stranger = first_connection(
        &cluster,
        &[verify, ("DB_SSLROOTCERT", other.to_str().unwrap())],
    )
    .await
    .unwrap_err();
    std::fs::remove_file(&other).unwrap();
    assert!(
        stranger.contains("InvalidCertificate(BadSignature)"),
        "{stranger}"
    );
}
