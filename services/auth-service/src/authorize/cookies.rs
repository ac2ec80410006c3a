//! The sign-in service's cookies, through axum-extra's `CookieJar`: the browser session and the
//! sign-in form's CSRF nonce. `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when the issuer
//! is https.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Mac, SimpleHmac};
use sha2::Sha256;

use crate::AppState;

pub const SESSION: &str = "claimflow_session";
pub const CSRF: &str = "claimflow_csrf";

/// A cookie of this issuer; `max_age` in seconds (a browser-session cookie without it).
pub fn cookie(issuer: &str, name: &'static str, value: String, max_age: Option<u64>) -> Cookie<'static> {
    let mut cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(issuer.starts_with("https://"))
        .build();
    if let Some(seconds) = max_age {
        cookie.set_max_age(time::Duration::seconds(seconds as i64));
    }
    cookie
}

/// `jar` without the cookie `name` (the browser is told to drop it).
pub fn remove(jar: CookieJar, issuer: &str, name: &'static str) -> CookieJar {
    jar.remove(cookie(issuer, name, String::new(), None))
}

pub fn value(jar: &CookieJar, name: &str) -> Option<String> {
    jar.get(name).map(|cookie| cookie.value().to_owned())
}

/// The form's CSRF token: the MAC of the browser's CSRF nonce, which another site can neither
/// read nor set.
pub fn csrf_token(state: &AppState, nonce: &str) -> String {
    let mut mac = <SimpleHmac<Sha256> as Mac>::new_from_slice(&state.config.session_key).expect("any key length");
    mac.update(b"claimflow sign-in form\0");
    mac.update(nonce.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

pub fn csrf_matches(state: &AppState, nonce: &str, presented: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(csrf_token(state, nonce).as_bytes(), presented.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_exactly_when_the_issuer_is_https() {
        let https = cookie("https://id.example.com", SESSION, "v".into(), Some(60)).to_string();
        let http = cookie("http://127.0.0.1:8080", SESSION, "v".into(), None).to_string();
        assert!(https.contains("Secure") && https.contains("Max-Age=60"), "{https}");
        assert!(!http.contains("Secure") && !http.contains("Max-Age"), "{http}");
        for text in [https, http] {
            assert!(text.contains("HttpOnly") && text.contains("SameSite=Lax") && text.contains("Path=/"), "{text}");
        }
    }
}
