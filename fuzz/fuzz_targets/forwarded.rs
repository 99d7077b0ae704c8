//! Forwarded headers from a (trusted) proxy: `Forwarded`, `X-Forwarded-For` and
//! `X-Forwarded-Proto` of any shape never panic, and the client named is never a trusted proxy
//! address unless every hop was one.
#![no_main]
use axum::http::{HeaderMap, HeaderValue};
use kolokasi::auth::TrustedProxies;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let mut headers = HeaderMap::new();
    for name in ["forwarded", "x-forwarded-for", "x-forwarded-proto"] {
        if let Some(v) = parts.next().and_then(|p| HeaderValue::from_bytes(p).ok()) {
            headers.insert(name, v);
        }
    }
    let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]);
    let client = proxies.client(Some("10.1.2.3".parse().unwrap()), &headers);
    assert!(!client.is_empty() && client.len() <= 80, "{client:?}");
    let _ = proxies.forwarded_https(Some("10.1.2.3".parse().unwrap()), &headers);
    let _ = kolokasi::auth::proxy::forwarded_for(&headers);
});
