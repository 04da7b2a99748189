//! An app's side of a provider sign-in, for the tests and make dev's path: its PKCE pair, and
//! what a browser does at the test provider (`local/oidc-provider.mjs`) between our authorize
//! redirect and our callback.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use sha2::Digest as _;

/// A fresh PKCE pair as an app makes it (RFC 7636): a verifier of 64 characters and its S256
/// challenge.
pub fn app_pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// What a browser does at the provider, by hand: follows the authorize URL to the login form,
/// posts who signs in (`form`: `login`, `email`, `email_verified`, `name`, `amr`), and follows
/// the provider's redirects (cookies kept) until one leads back to `callback`; returns that
/// callback's query, or, for a provider that answers with a self-posting form to `callback`
/// (`response_mode=form_post`), that form's fields.
pub fn sign_in_at_provider(
    authorize_url: &str,
    callback: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<HashMap<String, String>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let origin = {
        let url = url::Url::parse(authorize_url).context("the authorize URL")?;
        url.origin().ascii_serialization()
    };
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    let mut next = authorize_url.to_owned();
    let mut posted = false;
    for _ in 0..10 {
        if next.starts_with(callback) {
            let url = url::Url::parse(&next).context("the callback URL")?;
            return Ok(url.query_pairs().into_owned().collect());
        }
        let cookie_header = cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut response = if next.contains("/interaction/") && !posted {
            posted = true;
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            agent
                .post(&next)
                .header("Cookie", &cookie_header)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(body.as_bytes())
        } else {
            agent.get(&next).header("Cookie", &cookie_header).call()
        }
        .with_context(|| format!("requesting {next}"))?;
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str()?.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let location = response
            .headers()
            .get("location")
            .map(|location| location.to_str().map(str::to_owned))
            .transpose()?;
        let Some(location) = location else {
            // No redirect: a self-posting form back to the callback (its error, if any, among
            // its fields), or a page that ends the journey here.
            let status = response.status();
            let page = response.body_mut().read_to_string().unwrap_or_default();
            if let Some(fields) = posted_form(&page, callback) {
                return Ok(fields);
            }
            bail!("{status} at {next}: {page}");
        };
        next = if location.starts_with('/') {
            format!("{origin}{location}")
        } else {
            location
        };
    }
    bail!("the provider never sent the browser back to {callback}")
}

/// The hidden fields of a `form_post` page whose form posts to `callback`
/// (`<form method="post" action="…">` with `<input type="hidden" name="…" value="…"/>`), as the
/// browser would submit them; `None` for any other page.
fn posted_form(page: &str, callback: &str) -> Option<HashMap<String, String>> {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = start + tag[start..].find('"')?;
        Some(unescape(&tag[start..end]))
    };
    let form = &page[page.find("<form")?..];
    let action = attribute(&form[..form.find('>')?], "action")?;
    if !action.starts_with(callback) {
        return None;
    }
    let fields = form
        .split("<input")
        .skip(1)
        .filter_map(|input| {
            let tag = &input[..input.find('>')?];
            Some((attribute(tag, "name")?, attribute(tag, "value")?))
        })
        .collect();
    Some(fields)
}

/// HTML's character references, as oidc-provider's form escapes a value.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let entity = &rest[at..];
        let Some(end) = entity.find(';') else {
            out.push_str(entity);
            return out;
        };
        let decoded = match &entity[1..end] {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            number => number
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| number.strip_prefix('#').and_then(|n| n.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &entity[end + 1..];
            }
            None => {
                out.push('&');
                rest = &entity[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_post_page_gives_its_fields_to_its_callback_only() {
        let page = r#"<html><body><form method="post" action="http://127.0.0.1:9/api/oauth/a/callback">
    <input type="hidden" name="code" value="c0de"/>
<input type="hidden" name="state" value="s&amp;t&#x3d;"/>
</form></body></html>"#;
        let fields = posted_form(page, "http://127.0.0.1:9/api/oauth/a/callback").unwrap();
        assert_eq!(fields["code"], "c0de");
        assert_eq!(fields["state"], "s&t=");
        assert_eq!(fields.len(), 2);
        assert!(posted_form(page, "http://127.0.0.1:9/api/oauth/b/callback").is_none());
        assert!(posted_form("<html>no form</html>", "http://x").is_none());
    }
}
