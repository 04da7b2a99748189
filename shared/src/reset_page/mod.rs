//! The page behind the emailed reset link: a self-contained HTML form that posts the new password
//! to `POST /api/reset-password/{token}`.
//!
//! The HTML is static (the script reads the token from the URL), so nothing user-supplied is ever
//! written into it. Its inline style and script are allowed by hash in a strict
//! `Content-Security-Policy`; no other script, style, font or frame can load, and
//! `Referrer-Policy: no-referrer` keeps the token out of any other site's logs.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use sha2::{Digest, Sha256};

const TEMPLATE: &str = include_str!("page.html");
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The page and its CSP, assembled once per cold start.
struct Page {
    html: String,
    csp: String,
}

static PAGE: LazyLock<Page> = LazyLock::new(|| {
    let hash = |text: &str| {
        format!(
            "'sha256-{}'",
            STANDARD.encode(Sha256::digest(text.as_bytes()))
        )
    };
    let csp = format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'none'; \
         form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
        hash(SCRIPT),
        hash(STYLE)
    );
    Page {
        html: TEMPLATE.replace("STYLE", STYLE).replace("SCRIPT", SCRIPT),
        csp,
    }
});

/// The HTML response, with the headers that keep it (and the token in its URL) contained.
pub fn response() -> Response<Body> {
    let mut response = Response::new(Body::Text(PAGE.html.clone()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&PAGE.csp).expect("the CSP is ASCII"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(response: &Response<Body>, name: header::HeaderName) -> &str {
        response.headers()[name].to_str().unwrap()
    }

    #[test]
    fn the_page_is_self_contained() {
        let response = response();
        let Body::Text(html) = response.body() else {
            panic!("text body")
        };
        assert!(
            html.contains(SCRIPT) && html.contains(STYLE),
            "style and script are inlined"
        );
        for external in ["src=", "href=", "http://", "https://", "@import", "url("] {
            assert!(
                !html.contains(external),
                "nothing is loaded from elsewhere: {external}"
            );
        }
    }

    #[test]
    fn the_csp_allows_exactly_the_inline_script_and_style() {
        let response = response();
        let csp = header(&response, header::CONTENT_SECURITY_POLICY);
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        let script_hash = STANDARD.encode(Sha256::digest(SCRIPT.as_bytes()));
        assert!(
            csp.contains(&format!("script-src 'sha256-{script_hash}';")),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(header(&response, header::REFERRER_POLICY), "no-referrer");
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
    }
}
