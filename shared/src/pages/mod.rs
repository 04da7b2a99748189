//! The pages a person uses, each self-contained: behind the emailed links, the reset form, which
//! posts the new password to `POST /api/reset-password/{token}`, and the confirmation page, which
//! posts the token of its URL's fragment to `POST /api/verify-email`; and the sign-in page (the
//! password, then the second factor when asked, a passkey, or "Continue with <provider>" through
//! the PKCE flow), the sign-up page, and the account page (TOTP on and off, passkeys, sign out),
//! which keep the tokens in the tab's `sessionStorage`, never in a cookie the API reads.
//!
//! The HTML is static (the script reads the token from the URL), so nothing user-supplied is ever
//! written into it; the one thing written in is the sign-in page's provider buttons, from the
//! operator's `OIDC_PROVIDERS` (names of `a-z`, `0-9` and `_` only). Its inline style and script are allowed by hash in a strict
//! `Content-Security-Policy`; no other script, style, font or frame can load, and
//! `Referrer-Policy: no-referrer` keeps the token out of any other site's logs.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use sha2::{Digest, Sha256};

/// The style every page shares.
const STYLE: &str = include_str!("page.css");

/// A page: its title, its body (the `<main>` element; the document around it is
/// [`Page::assemble`]'s, the same for every page) and its script.
struct Source {
    title: &'static str,
    body: &'static str,
    script: &'static str,
}

const RESET: Source = Source {
    title: "Choose a new password",
    body: include_str!("reset.html"),
    script: include_str!("reset.js"),
};

const VERIFY: Source = Source {
    title: "Confirm your email address",
    body: include_str!("verify.html"),
    script: include_str!("verify.js"),
};

// The sign-in, sign-up and account pages share `factors.js`, inlined before each one's own
// script.
const SIGNIN: Source = Source {
    title: "Sign in",
    body: include_str!("signin.html"),
    script: concat!(include_str!("factors.js"), include_str!("signin.js")),
};

const SIGNUP: Source = Source {
    title: "Create an account",
    body: include_str!("signup.html"),
    script: concat!(include_str!("factors.js"), include_str!("signup.js")),
};

const ACCOUNT: Source = Source {
    title: "Your account",
    body: include_str!("account.html"),
    script: concat!(include_str!("factors.js"), include_str!("account.js")),
};

/// A page and its CSP, assembled once per cold start.
pub struct Page {
    html: String,
    csp: String,
}

static RESET_PAGE: LazyLock<Page> = LazyLock::new(|| Page::assemble(&RESET));
static VERIFY_PAGE: LazyLock<Page> = LazyLock::new(|| Page::assemble(&VERIFY));
static ACCOUNT_PAGE: LazyLock<Page> = LazyLock::new(|| Page::assemble(&ACCOUNT));
static SIGNUP_PAGE: LazyLock<Page> = LazyLock::new(|| Page::assemble(&SIGNUP));

/// `GET /reset-password`: the form that sets a new password with the token of the URL's fragment.
pub fn reset() -> Response<Body> {
    RESET_PAGE.response()
}

/// `GET /verify-email`: the page that confirms an address with the token of its fragment.
pub fn verify() -> Response<Body> {
    VERIFY_PAGE.response()
}

/// `GET /signin`: the password, then the second factor when asked; or a passkey; or a
/// "Continue with …" button for each of `providers` (names as `OIDC_PROVIDERS` has them: `a-z`,
/// `0-9` and `_`). Its handler assembles it once per cold start.
pub fn signin(providers: &[&str]) -> Page {
    Page::signin(providers)
}

/// `GET /signup`: name, address and password, then "check your email".
pub fn signup() -> Response<Body> {
    SIGNUP_PAGE.response()
}

/// `GET /account`: the signed-in user's factors, and sign-out.
pub fn account() -> Response<Body> {
    ACCOUNT_PAGE.response()
}

impl Page {
    /// The sign-in page with a "Continue with …" button for each of `providers`.
    fn signin(providers: &[&str]) -> Page {
        let buttons: String = providers
            .iter()
            .map(|&name| {
                debug_assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                );
                let mut label = name.replace('_', " ");
                label[..1].make_ascii_uppercase();
                format!(
                    "<button type=\"button\" class=\"secondary\" data-provider=\"{name}\" \
                     disabled>Continue with {label}</button>"
                )
            })
            .collect();
        let mut page = Page::assemble(&SIGNIN);
        page.html = page.html.replace("<!--PROVIDERS-->", &buttons);
        page
    }

    fn assemble(source: &Source) -> Page {
        let hash = |text: &str| {
            format!(
                "'sha256-{}'",
                STANDARD.encode(Sha256::digest(text.as_bytes()))
            )
        };
        let csp = format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'none'; \
         form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
            hash(source.script),
            hash(STYLE)
        );
        let Source {
            title,
            body,
            script,
        } = source;
        // No referrer from the page itself either: the token in its URL stays in the tab.
        let html = format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"referrer\" content=\"no-referrer\">\n<title>{title}</title>\n\
             <style>{STYLE}</style>\n</head>\n<body>\n{body}<script>{script}</script>\n\
             </body>\n</html>\n"
        );
        Page { html, csp }
    }

    /// The HTML response, with the headers that keep it (and the token in its URL) contained.
    pub fn response(&self) -> Response<Body> {
        let mut response = Response::new(Body::Text(self.html.clone()));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&self.csp).expect("the CSP is ASCII"),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(response: &Response<Body>, name: header::HeaderName) -> &str {
        response.headers()[name].to_str().unwrap()
    }

    fn pages() -> [(Response<Body>, &'static Source); 6] {
        [
            (reset(), &RESET),
            (verify(), &VERIFY),
            (signin(&[]).response(), &SIGNIN),
            (signin(&["google", "azure_ad"]).response(), &SIGNIN),
            (account(), &ACCOUNT),
            (signup(), &SIGNUP),
        ]
    }

    fn text_of(response: &Response<Body>) -> &str {
        let Body::Text(html) = response.body() else {
            panic!("text body")
        };
        html
    }

    #[test]
    fn the_signin_page_has_a_button_per_provider_in_order() {
        let page = signin(&["google", "azure_ad"]).response();
        let html = text_of(&page);
        let google = html
            .find(r#"data-provider="google" disabled>Continue with Google</button>"#)
            .expect("a Google button");
        let azure = html
            .find(r#"data-provider="azure_ad" disabled>Continue with Azure ad</button>"#)
            .expect("an azure_ad button");
        assert!(google < azure, "in OIDC_PROVIDERS' order");
        assert!(!html.contains("<!--PROVIDERS-->"));
        let none = signin(&[]).response();
        assert!(
            !text_of(&none).contains("data-provider="),
            "no provider, no button"
        );
    }

    #[test]
    fn every_page_is_one_document_around_its_own_title_and_body() {
        for (response, source) in pages() {
            let html = text_of(&response);
            assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">\n<head>\n"));
            assert!(html.ends_with("</script>\n</body>\n</html>\n"));
            for once in [
                "<head>", "<title>", "<style>", "<body>", "<main>", "<script>",
            ] {
                assert_eq!(html.matches(once).count(), 1, "{once} in {}", source.title);
            }
            assert!(html.contains(&format!("<title>{}</title>", source.title)));
            assert!(
                html.contains(r#"<meta name="referrer" content="no-referrer">"#),
                "{}",
                source.title
            );
            let body = source.body.split("<!--PROVIDERS-->").next().unwrap();
            assert!(
                html.contains(body),
                "{}: its body, as written",
                source.title
            );
        }
    }

    #[test]
    fn every_page_is_self_contained() {
        for (response, source) in pages() {
            let html = text_of(&response);
            assert!(
                html.contains(source.script) && html.contains(STYLE),
                "style and script are inlined"
            );
            for external in ["src=", "href=", "http://", "https://", "@import", "url("] {
                assert!(
                    !html.contains(external),
                    "nothing is loaded from elsewhere: {external}"
                );
            }
        }
    }

    #[test]
    fn every_csp_allows_exactly_the_inline_script_and_style() {
        for (response, source) in pages() {
            let csp = header(&response, header::CONTENT_SECURITY_POLICY);
            assert!(csp.starts_with("default-src 'none';"), "{csp}");
            let script_hash = STANDARD.encode(Sha256::digest(source.script.as_bytes()));
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
}
