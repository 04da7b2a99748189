//! Any `Authorization` header value through introspection's HTTP Basic parser: credentials only
//! for `Basic <base64 of id:secret>` (round-tripping what was encoded), nothing otherwise; never a
//! panic.
#![no_main]

use auth::http::basic_of;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;

fuzz_target!(|raw: &str| {
    if let Some((_, secret)) = basic_of(raw) {
        let (scheme, _) = raw.trim().split_once(' ').expect("a scheme and credentials");
        assert!(scheme.eq_ignore_ascii_case("basic"), "{raw:?}");
        let _ = secret.expose_secret().len();
    }
    // What a client encodes (form-urlencoded parts, as RFC 6749 §2.3.1 asks) comes back as it was.
    let id: String = raw.chars().filter(|c| *c != ':').take(32).collect();
    let encoded = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", encoded(&id), encoded(raw)))
    );
    let (parsed_id, parsed_secret) = basic_of(&header).expect("well-formed credentials parse");
    assert_eq!(parsed_id, id);
    assert_eq!(parsed_secret.expose_secret(), raw);
});
