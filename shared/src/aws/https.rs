//! The SDK's HTTP client: HTTP/1.1 over rustls with ring and the Mozilla roots (or the PEM bundle
//! `AWS_CA_BUNDLE` names, as in every AWS SDK), on the hyper client every function already links
//! for Lambda's Runtime API.
//!
//! The SDK's own client (`aws-smithy-http-client`) always compiles HTTP/2 in, which Secrets
//! Manager and SES do not need: about 300 KB of every binary that reads a secret. This one is
//! the same hyper-util pooled client with the same error classification for retries, minus
//! HTTP/2, proxies and the operating system's certificate store (which a cold start would read
//! from disk; the database's TLS uses the same compiled-in roots).

use std::error::Error as StdError;
use std::sync::Mutex;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::TokioExecutor;

use crate::tls::TrustedRoots;

type Pooled = Client<HttpsConnector<TcpConnector>, SdkBody>;

/// Whom the SDK's HTTPS calls trust, or why `AWS_CA_BUNDLE` gives them no one: then every call
/// fails, saying so, rather than falling back to roots the operator did not ask for.
pub type Roots = Result<TrustedRoots, String>;

/// `AWS_CA_BUNDLE`'s roots (the certificates of the PEM file it names, as every AWS SDK reads
/// it), or the Mozilla roots when unset.
pub fn roots(ca_bundle: Option<&str>) -> Roots {
    ca_bundle.map_or(Ok(TrustedRoots::Mozilla), |path| {
        TrustedRoots::from_pem_file(path).map_err(|why| format!("AWS_CA_BUNDLE: {why}"))
    })
}

/// The SDK's HTTP client: one pooled hyper client per distinct pair of timeouts the SDK asks for
/// (in practice one per process), so connections are reused across calls.
pub fn client(roots: Roots) -> SharedHttpClient {
    SharedHttpClient::new(Http1Client {
        roots,
        connectors: Mutex::default(),
    })
}

#[derive(Debug)]
struct Http1Client {
    roots: Roots,
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timeouts {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl HttpClient for Http1Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = Timeouts {
            connect: settings.connect_timeout(),
            read: settings.read_timeout(),
        };
        let mut connectors = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeouts) {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(Http1Connector::new(timeouts, &self.roots));
        connectors.push((timeouts, connector.clone()));
        connector
    }
}

#[derive(Debug)]
struct Http1Connector {
    /// The pooled client, or why there is none (an unusable `AWS_CA_BUNDLE`).
    client: Result<Pooled, String>,
    read_timeout: Option<Duration>,
}

impl Http1Connector {
    fn new(timeouts: Timeouts, roots: &Roots) -> Self {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(timeouts.connect);
        let tls = match roots {
            Ok(roots) => roots.client_config(),
            Err(why) => {
                return Http1Connector {
                    client: Err(why.clone()),
                    read_timeout: timeouts.read,
                };
            }
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            // http: only for an emulator named by AWS_ENDPOINT_URL (tests); AWS's are https.
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        Http1Connector {
            client: Ok(Client::builder(TokioExecutor::new()).build(https)),
            read_timeout: timeouts.read,
        }
    }
}

impl HttpConnector for Http1Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())));
            }
        };
        let client = match &self.client {
            Ok(client) => client,
            Err(why) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(why.clone().into())));
            }
        };
        let response = client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, response)
                    .await
                    .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?,
                None => response.await,
            }
            .map_err(classify)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// What the SDK's retry strategy needs to know of a failed call, as its own client classifies
/// hyper's errors: a timeout, a connection that failed or closed (retried), a request the client
/// got wrong (not retried), or a truncated answer (transient).
fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let hyper_error = source::<hyper::Error>(&error);
    let kind = if hyper_error.is_some_and(|e| e.is_timeout()) {
        ConnectorError::timeout
    } else if hyper_error.is_some_and(hyper::Error::is_user) {
        ConnectorError::user
    } else if error.is_connect()
        || hyper_error.is_some_and(|e| e.is_closed() || e.is_canceled())
        || source::<std::io::Error>(&error).is_some()
    {
        ConnectorError::io
    } else if hyper_error.is_some_and(hyper::Error::is_incomplete_message) {
        |error| ConnectorError::other(error, Some(ErrorKind::TransientError))
    } else {
        |error| ConnectorError::other(error, None)
    };
    kind(error.into())
}

/// The first error of type `E` in `error`'s chain of sources.
fn source<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;

    use super::*;

    fn connector(read: Option<Duration>) -> Http1Connector {
        with_roots(read, &Ok(TrustedRoots::Mozilla))
    }

    fn with_roots(read: Option<Duration>, roots: &Roots) -> Http1Connector {
        Http1Connector::new(
            Timeouts {
                connect: Some(Duration::from_secs(2)),
                read,
            },
            roots,
        )
    }

    fn get(url: &str) -> HttpRequest {
        HttpRequest::get(url).unwrap()
    }

    #[tokio::test]
    async fn an_answer_comes_back_with_its_status_and_body() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            use std::io::Write;
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0; 1024];
            let _ = stream.read(&mut request).unwrap();
            stream
                .write_all(b"HTTP/1.1 418 I'm a teapot\r\ncontent-length: 5\r\n\r\nshort")
                .unwrap();
        });
        let response = connector(None).call(get(&url)).await.unwrap();
        assert_eq!(response.status().as_u16(), 418);
        let body = aws_smithy_types::byte_stream::ByteStream::new(response.into_body())
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(&body[..], b"short");
        server.join().unwrap();
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_which_the_sdk_retries() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = connector(None)
            .call(get(&format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap_err();
        assert!(error.is_io(), "{error:?}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_timeout_after_the_read_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let error = connector(Some(Duration::from_millis(200)))
            .call(get(&url))
            .await
            .unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
        drop(listener);
    }

    /// An HTTPS server on loopback for one connection, under a throwaway CA; answers 204.
    fn https_server() -> (String, std::path::PathBuf, std::thread::JoinHandle<()>) {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use std::io::Write;
        use std::sync::Arc;

        let generated = testkit::tls::ServerCertificate::generate().unwrap();
        let ca = std::env::temp_dir().join(format!("aws-ca-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&ca, &generated.ca_pem).unwrap();
        let chain = CertificateDer::pem_slice_iter(generated.certificate_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(generated.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "https://localhost:{}/",
            listener.local_addr().unwrap().port()
        );
        let server = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let connection = rustls::ServerConnection::new(Arc::new(config)).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, tcp);
            let mut request = [0; 1024];
            // A client that refused the certificate ends the handshake here.
            if tls.read(&mut request).is_ok() {
                let _ = tls.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
                let _ = tls.flush();
            }
        });
        (url, ca, server)
    }

    #[tokio::test]
    async fn the_ca_bundle_replaces_the_mozilla_roots() {
        let (url, ca, server) = https_server();
        let roots = roots(ca.to_str());
        let response = with_roots(None, &roots).call(get(&url)).await.unwrap();
        assert_eq!(response.status().as_u16(), 204);
        server.join().unwrap();

        let (url, _, server) = https_server();
        let refused = connector(None).call(get(&url)).await.unwrap_err();
        assert!(
            format!("{:?}", refused).contains("UnknownIssuer"),
            "the Mozilla roots do not know the throwaway CA: {refused:?}"
        );
        server.join().unwrap();
        std::fs::remove_file(ca).unwrap();
    }

    #[tokio::test]
    async fn an_unusable_ca_bundle_fails_every_call_saying_why() {
        let missing = roots(Some("/nonexistent/bundle.pem"));
        let error = with_roots(None, &missing)
            .call(get("https://localhost:1/"))
            .await
            .unwrap_err();
        assert!(error.is_user(), "not retried: {error:?}");
        assert!(format!("{error:?}").contains("AWS_CA_BUNDLE"), "{error:?}");
        let empty = std::env::temp_dir().join(format!("empty-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&empty, "no certificate\n").unwrap();
        assert!(matches!(
            roots(empty.to_str()),
            Err(why) if why.starts_with("AWS_CA_BUNDLE: ") && why.contains("no usable certificate")
        ));
        std::fs::remove_file(empty).unwrap();
    }
}
