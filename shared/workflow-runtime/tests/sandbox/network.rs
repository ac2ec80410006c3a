//! The bindings that reach out: `env`, `url`, `fetch` with its limits, `secureFetch`, and the
//! token cache, against small servers on loopback.

use super::*;

fn services_allowing_loopback() -> std::sync::Arc<Services> {
    static SERVICES: OnceLock<std::sync::Arc<Services>> = OnceLock::new();
    SERVICES
        .get_or_init(|| {
            std::sync::Arc::new(Services {
                network: Network::new(AllowList::parse("127.0.0.1").unwrap()).expect("network starts"),
                token_cache: TokenCache::default(),
            })
        })
        .clone()
}

/// A tiny HTTP server on loopback: `/json` answers JSON, `/echo` echoes the request line and
/// body, `/redirect-metadata` redirects to the cloud metadata address.
fn http_server() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                if path == "/slow" {
                    std::thread::sleep(std::time::Duration::from_secs(2));
                }
                let (status, headers, payload) = match path.as_str() {
                    "/big" => ("200 OK", "content-type: text/plain\r\n".to_owned(), "x".repeat(2 * 1024 * 1024)),
                    "/json" => {
                        ("200 OK", "content-type: application/json\r\n".to_owned(), r#"{"tier":"gold"}"#.to_owned())
                    }
                    "/redirect-metadata" => {
                        ("302 Found", "location: http://169.254.169.254/latest/meta-data\r\n".to_owned(), String::new())
                    }
                    _ => (
                        "200 OK",
                        "content-type: text/plain\r\n".to_owned(),
                        format!("{} {}", request_line.trim(), String::from_utf8_lossy(&body)),
                    ),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{payload}",
                    payload.len()
                );
            });
        }
    });
    format!("http://{address}")
}

async fn run_allowing_loopback(code: &str, bindings: &[&str]) -> RunOutcome {
    let mut request = request(code, bindings, Limits::default());
    request.services = services_allowing_loopback();
    engine().run(request).await.expect("engine runs")
}

#[tokio::test]
async fn env_binding_returns_value_and_secret_flag() {
    let outcome = run(
        r#"export default async function () {
            kinde.m2mToken.setCustomClaim("plain", kinde.env.get("PLAIN"));
            kinde.m2mToken.setCustomClaim("secret", kinde.env.get("API_KEY").isSecret);
            kinde.m2mToken.setCustomClaim("missing", kinde.env.get("NOPE") === undefined);
        }"#,
        &["kinde.m2mToken", "kinde.env"],
    )
    .await;
    let claims = m2m_claims(&outcome);
    assert_eq!(claims["plain"], json!({"value": "visible", "isSecret": false}), "{:?}", outcome.error);
    assert_eq!(claims["secret"], true);
    assert_eq!(claims["missing"], true);
}

#[tokio::test]
async fn secret_values_are_redacted_from_console_output_and_errors() {
    let outcome = run(
        r#"export default async function () {
            const key = kinde.env.get("API_KEY").value;
            console.log("calling CRM with", key);
            throw new Error("CRM refused key " + key);
        }"#,
        &["kinde.env"],
    )
    .await;
    assert_eq!(outcome.logs[0].message, "calling CRM with [redacted]");
    let error = outcome.error.unwrap();
    assert!(error.contains("[redacted]") && !error.contains("hunter2"), "{error}");
}

#[tokio::test]
async fn url_binding_provides_url_search_params_and_url() {
    let outcome = run(
        r#"export default async function () {
            const params = new URLSearchParams({ grant_type: "client_credentials", scope: "a b" });
            params.append("x", "1&2");
            const url = new URL("/api/v1/organization?code=org_1", "https://acme.example:8443");
            url.searchParams.set("page", "2");
            kinde.m2mToken.setCustomClaim("form", params.toString());
            kinde.m2mToken.setCustomClaim("url", [url.hostname, url.port, url.pathname, url.searchParams.get("code"), url.href]);
        }"#,
        &["kinde.m2mToken", "url"],
    )
    .await;
    let claims = m2m_claims(&outcome);
    assert_eq!(claims["form"], "grant_type=client_credentials&scope=a+b&x=1%262", "{:?}", outcome.error);
    assert_eq!(
        claims["url"],
        json!([
            "acme.example",
            "8443",
            "/api/v1/organization",
            "org_1",
            "https://acme.example:8443/api/v1/organization?code=org_1&page=2"
        ])
    );
}

#[tokio::test]
async fn what_kinde_provides_undeclared_is_there_without_a_declaration() {
    let outcome = run(
        r#"export default async function () {
            kinde.m2mToken.setCustomClaim("t", [typeof URLSearchParams, typeof URL, typeof kinde.cache.jwtToken, typeof kinde.fetch]);
            kinde.m2mToken.setCustomClaim("env", typeof kinde.env);
        }"#,
        &["kinde.m2mToken"],
    )
    .await;
    assert_eq!(
        m2m_claims(&outcome)["t"],
        json!(["function", "function", "function", "function"]),
        "{:?}",
        outcome.error
    );
    assert_eq!(m2m_claims(&outcome)["env"], "undefined", "a binding Kinde does not provide stays absent");
}

#[tokio::test]
async fn undeclared_fetch_reaches_claimflows_own_api_and_nothing_else() {
    let base = http_server();
    let code = format!(
        r#"export default async function () {{
            kinde.m2mToken.setCustomClaim("tier", kinde.fetch("{base}/json").json.tier);
            let other;
            try {{ kinde.fetch("http://example.com/"); other = "reached"; }} catch (error) {{ other = error.message; }}
            kinde.m2mToken.setCustomClaim("other", other);
        }}"#
    );
    let mut request = request(&code, &["kinde.m2mToken"], Limits::default());
    request.trusted_host = Some("127.0.0.1".into());
    let outcome = engine().run(request).await.expect("engine runs");
    let claims = m2m_claims(&outcome);
    assert_eq!(claims["tier"], "gold", "{:?}", outcome.error);
    let other = claims["other"].as_str().unwrap();
    assert!(other.contains("example.com is not claimflow's own API"), "{other}");
    assert!(other.contains(r#"add "kinde.fetch": {} to workflowSettings.bindings"#), "{other}");
}

#[tokio::test]
async fn fetch_works_synchronously_and_with_await() {
    let base = http_server();
    let code = format!(
        r#"export default async function () {{
            const direct = kinde.fetch("{base}/json", {{ responseFormat: "json" }});
            const awaited = await kinde.fetch("{base}/json");
            const posted = kinde.fetch("{base}/echo", {{ method: "POST", responseFormat: "text", body: new URLSearchParams({{ a: "1" }}) }});
            kinde.m2mToken.setCustomClaim("direct", direct.json.tier);
            kinde.m2mToken.setCustomClaim("awaited", awaited.json.tier);
            kinde.m2mToken.setCustomClaim("posted", posted.text);
        }}"#
    );
    let outcome = run_allowing_loopback(&code, &["kinde.m2mToken", "kinde.fetch", "url"]).await;
    let claims = m2m_claims(&outcome);
    assert_eq!(claims["direct"], "gold", "{:?}", outcome.error);
    assert_eq!(claims["awaited"], "gold");
    assert_eq!(claims["posted"], "POST /echo HTTP/1.1 a=1");
}

#[tokio::test]
async fn fetch_to_loopback_is_refused_unless_allowed() {
    let base = http_server();
    let code = format!(r#"export default async function () {{ kinde.fetch("{base}/json"); }}"#);
    let outcome = run(&code, &["kinde.fetch"]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("loopback") && error.contains("CLAIMFLOW_FETCH_ALLOW"), "{error}");
}

#[tokio::test]
async fn fetch_to_cloud_metadata_is_refused_directly_and_through_redirects() {
    let outcome = run(
        r#"export default async function () { kinde.fetch("http://169.254.169.254/latest/meta-data"); }"#,
        &["kinde.fetch"],
    )
    .await;
    assert!(outcome.error.unwrap().contains("link-local"));
    let base = http_server();
    let code = format!(r#"export default async function () {{ kinde.fetch("{base}/redirect-metadata"); }}"#);
    let outcome = run_allowing_loopback(&code, &["kinde.fetch"]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.unwrap().contains("169.254.169.254"));
}

#[tokio::test]
async fn fetch_count_is_limited_per_run() {
    let base = http_server();
    let code =
        format!(r#"export default async function () {{ for (let i = 0; i < 25; i++) kinde.fetch("{base}/json"); }}"#);
    let outcome = run_allowing_loopback(&code, &["kinde.fetch"]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.unwrap().contains("the limit"));
}

#[tokio::test]
async fn fetch_query_secrets_are_not_shown_in_errors() {
    let outcome = run(
        r#"export default async function () { kinde.fetch("http://127.0.0.1:9/x?api_key=topsecret"); }"#,
        &["kinde.fetch"],
    )
    .await;
    let error = outcome.error.unwrap();
    assert!(!error.contains("topsecret"), "{error}");
}

#[tokio::test]
async fn reset_claims_starts_custom_claims_empty() {
    let code = r#"export default async function () {
        kinde.m2mToken.setCustomClaim("seen", Object.keys(kinde.m2mToken.getCustomClaims()));
    }"#;
    let mut with_custom = request(code, &["kinde.m2mToken"], Limits::default());
    with_custom.base_claims =
        vec![(TokenKind::M2m, json!({ "aud": ["acme"], "tier": "gold" }).as_object().unwrap().clone())];
    let kept = engine().run(with_custom.clone()).await.unwrap();
    assert_eq!(m2m_claims(&kept)["seen"], json!(["tier"]));
    with_custom.reset_claims = vec![TokenKind::M2m];
    let reset = engine().run(with_custom).await.unwrap();
    assert_eq!(m2m_claims(&reset)["seen"], json!([]));
}

#[tokio::test]
async fn claims_count_is_limited() {
    let limits = Limits { max_claims: 3, ..Limits::default() };
    let outcome = run_with(
        r#"export default async function () { for (let i = 0; i < 4; i++) kinde.m2mToken.setCustomClaim("c" + i, i); }"#,
        &["kinde.m2mToken"],
        limits,
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.unwrap().contains("at most 3 claims"));
}

#[tokio::test]
async fn secure_fetch_posts_the_body_encrypted_with_the_environment_key() {
    use aes_gcm::aead::{Aead, KeyInit};
    use base64::Engine as _;
    let base = http_server();
    let code = format!(
        r#"export default async function () {{
            const response = kinde.secureFetch("{base}/echo", {{ body: {{ ssn: "123-45-6789" }}, responseFormat: "text" }});
            kinde.m2mToken.setCustomClaim("echo", response.text);
        }}"#
    );
    let key = [9u8; 32];
    let mut request = request(&code, &["kinde.m2mToken", "kinde.secureFetch"], Limits::default());
    request.services = services_allowing_loopback();
    request.secure_fetch_key = Some(key);
    let outcome = engine().run(request).await.unwrap();
    let echo = m2m_claims(&outcome)["echo"].as_str().unwrap_or_else(|| panic!("{:?}", outcome.error)).to_owned();
    let (request_line, sealed) = echo.rsplit_once(' ').unwrap();
    assert!(request_line.starts_with("POST /echo"), "{echo}");
    assert!(!echo.contains("123-45-6789"), "the body must not travel in clear");
    let sealed = base64::engine::general_purpose::STANDARD.decode(sealed).unwrap();
    let (nonce, ciphertext) = sealed.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().unwrap();
    let plaintext = aes_gcm::Aes256Gcm::new(&key.into()).decrypt(&nonce.into(), ciphertext).unwrap();
    assert_eq!(String::from_utf8(plaintext).unwrap(), r#"{"ssn":"123-45-6789"}"#);
}

#[tokio::test]
async fn fetch_times_out_and_refuses_oversized_responses() {
    let base = http_server();
    let limits = Limits {
        fetch: FetchLimits {
            timeout: Duration::from_millis(300),
            max_response_bytes: 1024 * 1024,
            ..FetchLimits::default()
        },
        ..Limits::default()
    };
    let mut slow = request(
        &format!(r#"export default async function () {{ kinde.fetch("{base}/slow"); }}"#),
        &["kinde.fetch"],
        limits.clone(),
    );
    slow.services = services_allowing_loopback();
    let started = std::time::Instant::now();
    let outcome = engine().run(slow).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.as_deref().unwrap().contains("no answer within"), "{:?}", outcome.error);
    assert!(started.elapsed() < Duration::from_millis(1500));

    let mut big = request(
        &format!(r#"export default async function () {{ kinde.fetch("{base}/big"); }}"#),
        &["kinde.fetch"],
        limits,
    );
    big.services = services_allowing_loopback();
    let outcome = engine().run(big).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.as_deref().unwrap().contains("larger than 1048576 bytes"), "{:?}", outcome.error);
}

/// A token issuer on loopback: `/jwks` publishes a key, `/token` hands out JWTs signed with it
/// (`/token-unknown-key` with another key) and counts how often it was asked.
fn token_issuer() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};

    use base64::Engine as _;
    use rsa::{pkcs8::EncodePrivateKey, traits::PublicKeyParts};
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let other = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwks = json!({ "keys": [{ "kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be()) }] }).to_string();
    let sign = |key: &rsa::RsaPrivateKey| {
        let pem = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("k1".into());
        let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
        jsonwebtoken::encode(
            &header,
            &json!({ "exp": exp, "aud": ["x"] }),
            &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let (good, forged) = (sign(&key), sign(&other));
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = issued.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let body = match path {
                "/jwks" => jwks.clone(),
                "/token" => {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    json!({ "access_token": good }).to_string()
                }
                _ => json!({ "access_token": forged }).to_string(),
            };
            let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    (format!("http://{address}"), issued)
}

#[tokio::test]
async fn cache_keeps_a_validated_token_across_runs_and_refuses_one_that_fails_validation() {
    let (base, issued) = token_issuer();
    let workflow = |token_path: &str| {
        format!(
            r#"export default async function () {{
                const token = await kinde.cache.jwtToken("api", {{
                    validation: {{ key: {{ type: "jwks", jwks: {{ url: "{base}/jwks" }} }} }},
                    onMissingOrExpired: () => kinde.fetch("{base}{token_path}", {{ method: "POST" }}).json.access_token,
                }});
                kinde.m2mToken.setCustomClaim("length", token.length);
            }}"#
        )
    };
    let services = services_allowing_loopback();
    for _ in 0..3 {
        let mut request = request(&workflow("/token"), &["kinde.m2mToken", "kinde.fetch"], Limits::default());
        request.services = services.clone();
        request.workflow_id = "cached".into();
        let outcome = engine().run(request).await.unwrap();
        assert_eq!(outcome.status, RunStatus::Ok, "{:?}", outcome.error);
    }
    assert_eq!(issued.load(std::sync::atomic::Ordering::SeqCst), 1, "three runs, one token request");

    let mut forged = request(&workflow("/token-unknown-key"), &["kinde.m2mToken", "kinde.fetch"], Limits::default());
    forged.services = services;
    forged.workflow_id = "forged".into();
    let outcome = engine().run(forged).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.error.unwrap().contains("failed validation"));
}
