//! `GET /reset-password`: the HTML page behind the emailed link (`…/reset-password#<token>`).

use auth::Endpoint;
use lambda_http::Body;
use lambda_http::http::{Method, StatusCode, header};

use crate::helpers::{TestApp, raw_request};

#[tokio::test]
async fn the_emailed_link_opens_a_contained_html_form() {
    let app = TestApp::spawn().await;
    // The fragment never reaches a server: the request is the bare path.
    let request = raw_request(Method::GET, "/reset-password", None, Body::Empty);

    let response = app.call_raw(Endpoint::ResetPage, request).await;

    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let Body::Text(html) = response.body() else {
        panic!("HTML text body")
    };
    assert!(
        html.contains(r#"<form id="reset-form""#),
        "the page holds the form"
    );
    assert!(
        html.contains("/api/reset-password/"),
        "the form posts to the API"
    );
    assert!(
        html.contains("location.hash") && html.contains("history.replaceState"),
        "the script reads the token from the fragment and clears it"
    );
}

#[tokio::test]
async fn posting_to_the_page_is_a_json_405() {
    let app = TestApp::spawn().await;

    let response = app
        .call(
            Endpoint::ResetPage,
            raw_request(Method::POST, "/reset-password", None, ""),
        )
        .await;

    response.assert_error(405, "method_not_allowed");
}
