//! Signing people in: web applications, a cookie-keeping browser without redirects, PKCE, and the
//! user-token requests a relying party makes.

use std::time::Duration;

use serde_json::{json, Value};

use crate::*;

/// A regular web application (`reg`, confidential) or a SPA (public) with a registered redirect
/// URL and logout URL. Nothing listens at them: tests read the `Location` the issuer sends.
pub struct WebApp {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
    pub logout_uri: String,
}

/// A browser: keeps cookies, does not follow redirects (the test reads each `Location`).
pub struct Browser {
    http: reqwest::Client,
    cookies: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
    /// Every `Set-Cookie` header received, as sent.
    set_cookies: std::sync::Mutex<Vec<String>>,
}

/// What a sign-in page answered.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Answer {
    /// A query parameter of the redirect.
    pub fn param(&self, name: &str) -> Option<String> {
        let location = url::Url::parse(self.location.as_deref()?).ok()?;
        location.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
    }

    /// The hidden fields of the page's form, HTML-unescaped.
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        let unescape = html_unescape;
        self.body
            .split("<input type=\"hidden\" ")
            .skip(1)
            .filter_map(|rest| {
                let name = rest.strip_prefix("name=\"")?.split('"').next()?;
                let value = rest.split("value=\"").nth(1)?.split('"').next()?;
                Some((name.to_owned(), unescape(value)))
            })
            .collect()
    }
}

/// Decodes the character references a page's attribute values can hold: named (`&amp;` ...) and
/// numeric (`&#38;`, `&#x26;`).
pub fn html_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .map(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').map(|dec| dec.parse().ok()))
                    .flatten()
                    .and_then(char::from_u32),
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, length)) => {
                out.push(c);
                rest = &rest[length..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Default for Browser {
    fn default() -> Self {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            cookies: Default::default(),
            set_cookies: Default::default(),
        }
    }
}

impl Browser {
    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let cookie: Vec<String> =
            self.cookies.lock().unwrap().iter().map(|(name, value)| format!("{name}={value}")).collect();
        let request = if cookie.is_empty() { request } else { request.header("cookie", cookie.join("; ")) };
        let response = request.send().await.expect("the issuer answers");
        for set in response.headers().get_all("set-cookie") {
            self.set_cookies.lock().unwrap().push(set.to_str().unwrap().to_owned());
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let mut cookies = self.cookies.lock().unwrap();
            if value.is_empty() || set.to_str().unwrap().contains("Max-Age=0") {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        Answer { status, location, body: response.text().await.unwrap_or_default() }
    }

    pub async fn get(&self, url: &str) -> Answer {
        self.send(self.http.get(url)).await
    }

    pub async fn post(&self, url: &str, form: &[(String, String)]) -> Answer {
        self.send(self.http.post(url).form(form)).await
    }

    pub fn forget_cookie(&self, name: &str) {
        self.cookies.lock().unwrap().remove(name);
    }

    /// The last `Set-Cookie` header that set `name`, attributes included.
    pub fn set_cookie_header(&self, name: &str) -> Option<String> {
        self.set_cookies.lock().unwrap().iter().rev().find(|h| h.starts_with(&format!("{name}="))).cloned()
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.lock().unwrap().contains_key(name)
    }

    /// Fills the sign-in form of `page` and submits it.
    pub async fn submit_login(&self, stack: &Stack, page: &Answer, email: &str, password: &str) -> Answer {
        let mut form = page.hidden_fields();
        form.push(("email".into(), email.into()));
        form.push(("password".into(), password.into()));
        self.post(&stack.url("/oauth2/auth"), &form).await
    }
}

/// A PKCE pair: `(verifier, S256 challenge)`.
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

impl Stack {
    /// Creates a `reg` or `spa` application with a redirect and a logout URL.
    pub async fn web_app(&self, kind: &str) -> WebApp {
        let (status, app) = self
            .management(reqwest::Method::POST, "applications", Some(json!({ "name": "Web shop", "type": kind })))
            .await;
        assert_eq!(status, 200, "create application: {app}");
        let client_id = app["application"]["client_id"].as_str().expect("client_id").to_owned();
        let client_secret = app["application"]["client_secret"].as_str().map(str::to_owned);
        let redirect_uri = format!("http://127.0.0.1:9/{client_id}/callback");
        let logout_uri = format!("http://127.0.0.1:9/{client_id}/signed-out");
        for (path, url) in [("auth_redirect_urls", &redirect_uri), ("auth_logout_urls", &logout_uri)] {
            let (status, body) = self
                .management(
                    reqwest::Method::POST,
                    &format!("applications/{client_id}/{path}"),
                    Some(json!({ "urls": [url] })),
                )
                .await;
            assert_eq!(status, 200, "{path}: {body}");
        }
        WebApp { client_id, client_secret, redirect_uri, logout_uri }
    }

    /// Creates a user with a password; returns the user's id.
    pub async fn user_with_password(&self, email: &str, given_name: &str, family_name: &str, password: &str) -> String {
        let (status, user) = self
            .management(
                reqwest::Method::POST,
                "user",
                Some(json!({
                    "profile": { "given_name": given_name, "family_name": family_name },
                    "identities": [{ "type": "email", "details": { "email": email } }],
                })),
            )
            .await;
        assert_eq!(status, 200, "create user: {user}");
        let id = user["id"].as_str().expect("user id").to_owned();
        let (status, body) = self
            .management(reqwest::Method::PUT, &format!("users/{id}/password"), Some(json!({ "password": password })))
            .await;
        assert_eq!(status, 200, "set password: {body}");
        id
    }

    /// `/oauth2/auth?...` for `app` with `params` (client_id, redirect_uri, response_type added).
    pub fn authorize_url(&self, app: &WebApp, params: &[(&str, &str)]) -> String {
        let mut url = url::Url::parse(&self.url("/oauth2/auth")).expect("issuer URL");
        url.query_pairs_mut()
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", &app.redirect_uri)
            .append_pair("response_type", "code")
            .extend_pairs(params);
        url.to_string()
    }

    /// `POST /oauth2/token` for a user grant, authenticated as `app`.
    pub async fn user_token_request(&self, app: &WebApp, form: &[(&str, &str)]) -> (u16, Value) {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        form.push(("client_id", &app.client_id));
        if let Some(secret) = &app.client_secret {
            form.push(("client_secret", secret));
        }
        let response = self.token_request(&form).await;
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// Exchanges a code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(&self, app: &WebApp, code: &str, verifier: &str) -> (u16, Value) {
        self.user_token_request(
            app,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &app.redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    pub async fn refresh(&self, app: &WebApp, refresh_token: &str) -> (u16, Value) {
        self.user_token_request(app, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    /// Signs `email` in through the login page with PKCE: the authorization code flow's redirect.
    pub async fn sign_in(
        &self,
        browser: &Browser,
        app: &WebApp,
        email: &str,
        password: &str,
        extra: &[(&str, &str)],
    ) -> (Answer, String) {
        let (verifier, challenge) = pkce();
        let mut params = vec![
            ("scope", "openid profile email offline"),
            ("state", "st-1"),
            ("nonce", "n-1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        params.extend_from_slice(extra);
        let page = browser.get(&self.authorize_url(app, &params)).await;
        assert_eq!(page.status, 200, "the login page: {}", page.body);
        (browser.submit_login(self, &page, email, password).await, verifier)
    }

    /// Signs in and exchanges the code: the token response.
    pub async fn user_tokens(&self, app: &WebApp, email: &str, password: &str, extra: &[(&str, &str)]) -> Value {
        let browser = Browser::default();
        let (answer, verifier) = self.sign_in(&browser, app, email, password, extra).await;
        assert_eq!(answer.status, 303, "sign-in redirects: {} {:?}", answer.body, answer.location);
        let code = answer.param("code").unwrap_or_else(|| panic!("a code in {:?}", answer.location));
        let (status, tokens) = self.exchange_code(app, &code, &verifier).await;
        assert_eq!(status, 200, "code exchange: {tokens}");
        tokens
    }

    /// Verifies a user token's signature and issuer through the JWKS (any audience).
    pub async fn verify_user_token(&self, token: &str) -> Value {
        let header = jsonwebtoken::decode_header(token).expect("a JWT");
        let jwks: jsonwebtoken::jwk::JwkSet =
            self.http.get(self.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
        let jwk = jwks.find(header.kid.as_deref().expect("kid")).expect("the kid is published");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("an RSA key");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.validate_aud = false;
        jsonwebtoken::decode::<Value>(token, &key, &validation).expect("a valid user token").claims
    }

    /// Deploys a `user:tokens_generation` workflow.
    pub async fn deploy_user_workflow(&self, source: &str) {
        let (status, body) = self.deploy(&[("kindeSrc/environment/workflows/userTokens/Workflow.ts", source)]).await;
        assert_eq!(status, 200, "deploy: {body}");
    }
}
