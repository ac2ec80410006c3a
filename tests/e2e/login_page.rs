//! The sign-in and sign-up pages in a real browser: Debian's Chromium, headless, driven by
//! playwright-core (`tests/npm/login-page.mjs`, `sign-up-page.mjs`). Screenshots are kept in
//! `target/screenshots/` (a CI artifact).

use std::process::Command;

use claimflow_e2e::{pkce, Stack, WebApp};
use serde_json::Value;

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery";

fn screenshots() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots")
}

/// Runs `tests/npm/<script>` in node with `environment` (and CHROMIUM, SCREENSHOTS): the JSON
/// object it prints.
async fn browser_script(script: &str, environment: &[(&str, &str)]) -> Value {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's chromium (apt-get install chromium; scripts/setup does as root)"
    );
    let playwright = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/npm/node_modules/playwright-core"));
    assert!(playwright.exists(), "install the npm test dependencies: npm ci --prefix tests/npm (scripts/test does)");
    let mut command = Command::new("node");
    command
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("npm").join(script))
        .envs(environment.iter().copied())
        .env("SCREENSHOTS", screenshots())
        .env("CHROMIUM", &chromium);
    // NOTE: off the test's runtime thread, which also serves the pages the browser loads.
    let output = tokio::task::spawn_blocking(move || command.output().expect("node runs")).await.unwrap();
    let result: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("the browser script prints JSON: {}", String::from_utf8_lossy(&output.stderr)));
    assert!(
        output.status.success(),
        "the browser script failed: {result}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    result
}

/// An authorization request for `app` with PKCE and `state`: (the verifier, the URL).
fn login_url(stack: &Stack, app: &WebApp, state: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let params = [
        ("scope", "openid profile email"),
        ("state", state),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    (verifier, stack.authorize_url(app, &params))
}

#[tokio::test]
async fn a_person_signs_in_with_the_keyboard_alone_on_a_phone_after_a_wrong_password() {
    let stack = Stack::start().await;
    stack.user_with_password(EMAIL, "Ada", "Lovelace", PASSWORD).await;
    let app = stack.web_app("reg").await;
    let (verifier, login_url) = login_url(&stack, &app, "st-browser");
    let environment = [
        ("LOGIN_URL", login_url.as_str()),
        ("REDIRECT_URI", &app.redirect_uri),
        ("EMAIL", EMAIL),
        ("PASSWORD", PASSWORD),
    ];
    let result = browser_script("login-page.mjs", &environment).await;

    // The page is the application's.
    assert_eq!(result["title"], "Sign in · Web shop", "{result}");
    assert_eq!(result["heading"], "Sign in");

    // A wrong password: the error is shown right under the fields, which say they are invalid.
    assert_eq!(result["wrong_status"], 401);
    assert_eq!(result["error_text"], "The email or password is incorrect.");
    assert_eq!(result["error_visible"], true);
    let gap = result["error_below_password_px"].as_i64().unwrap();
    assert!((0..=32).contains(&gap), "the error sits {gap} px under the password field");
    assert_eq!(
        (result["password_invalid"].as_str(), result["described_by"].as_str()),
        (Some("true"), Some("sign-in-error"))
    );
    assert_eq!(result["email_kept"], EMAIL, "the email is kept, only the password is asked again");

    // A 360 px phone: nothing wider than the screen, the email field focused first.
    assert!(result["phone_scroll_width"].as_f64().unwrap() <= 360.0, "{result}");
    assert!(result["phone_widest_right"].as_f64().unwrap() <= 360.0, "{result}");
    assert_eq!(result["focused_first"], "email");
    assert_eq!(result["focused_after_tab"], "password", "Tab moves from the email to the password");

    // Enter submitted the form: the browser came back to the client with a code that works.
    let callback = url::Url::parse(result["callback"].as_str().expect("the redirect URI was reached")).unwrap();
    let param = |name: &str| callback.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned());
    assert_eq!(param("state").as_deref(), Some("st-browser"));
    let (status, tokens) = stack.exchange_code(&app, &param("code").expect("a code"), &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = stack.verify_user_token(tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["email"], EMAIL);
    assert!(screenshots().join("login-error.png").exists() && screenshots().join("login-phone.png").exists());
}

#[tokio::test]
async fn a_person_creates_an_account_from_the_login_pages_link_and_again_on_a_phone() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    let body = serde_json::json!({ "allow_signup": true });
    let path = format!("applications/{}", app.client_id);
    assert_eq!(stack.management(reqwest::Method::PATCH, &path, Some(body)).await.0, 200);
    let (verifier, login_url) = login_url(&stack, &app, "st-sign-up");
    let environment = [
        ("LOGIN_URL", login_url.as_str()),
        ("REDIRECT_URI", &app.redirect_uri),
        ("EMAIL", "grace@example.com"),
        ("PASSWORD", "sign me up 42"),
    ];
    let result = browser_script("sign-up-page.mjs", &environment).await;

    // The login page's link leads to the application's sign-up page.
    assert_eq!(result["page_status"], 200, "{result}");
    assert_eq!(result["title"], "Create your account · Web shop", "{result}");
    assert_eq!(result["heading"], "Create your account");
    // Passwords that differ: the message right under the fields, which say they are invalid;
    // the email is kept, the passwords are not sent back.
    assert_eq!(result["refused_status"], 400);
    assert_eq!(result["error_text"], "The passwords do not match.");
    assert_eq!(result["error_visible"], true);
    let gap = result["error_below_confirmation_px"].as_i64().unwrap();
    assert!((0..=32).contains(&gap), "the error sits {gap} px under the confirmation field");
    assert_eq!(result["confirmation_invalid"], "true");
    assert_eq!(
        (result["email_kept"].as_str(), result["password_kept"].as_str()),
        (Some("grace@example.com"), Some(""))
    );
    // A 360 px phone: nothing wider than the screen, the first field focused; Enter sends it.
    assert!(result["phone_scroll_width"].as_f64().unwrap() <= 360.0, "{result}");
    assert_eq!(result["focused_first"], "given_name");
    let callback = url::Url::parse(result["callback"].as_str().expect("the redirect URI was reached")).unwrap();
    let param = |name: &str| callback.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned());
    assert_eq!(param("state").as_deref(), Some("st-sign-up"));
    let (status, tokens) = stack.exchange_code(&app, &param("code").expect("a code"), &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let id = stack.verify_user_token(tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id["email"], "grace@example.com", "{id}");
    assert!(screenshots().join("signup-error.png").exists() && screenshots().join("signup-phone.png").exists());
}

#[tokio::test]
async fn a_person_enrols_an_authenticator_app_from_the_qr_page_on_a_phone() {
    let stack = Stack::start().await;
    let ada = stack.user_with_password(EMAIL, "Ada", "Lovelace", PASSWORD).await;
    let app = stack.web_app("reg").await;
    let policy = serde_json::json!({ "policy": "required" });
    assert_eq!(stack.management(reqwest::Method::PUT, "mfa", Some(policy)).await.0, 200);
    let (verifier, login_url) = login_url(&stack, &app, "st-mfa");
    let environment = [
        ("LOGIN_URL", login_url.as_str()),
        ("REDIRECT_URI", &app.redirect_uri),
        ("EMAIL", EMAIL),
        ("PASSWORD", PASSWORD),
    ];
    let result = browser_script("mfa-page.mjs", &environment).await;

    // The enrolment page: the QR code at its size, the key (160 bits in base32), the code field
    // focused, nothing wider than the phone.
    assert_eq!(result["enrol_status"], 200, "{result}");
    assert_eq!(result["heading"], "Set up two-step verification");
    assert_eq!(result["qr_size"], serde_json::json!([200, 200]), "{result}");
    assert_eq!(result["secret_length"], 32, "{result}");
    assert!(result["otpauth_link"].as_str().unwrap().starts_with("otpauth://totp/"), "{result}");
    assert_eq!(result["focused"], "code");
    assert!(result["scroll_width"].as_f64().unwrap() <= 360.0, "{result}");
    // The code typed: ten recovery codes, then the client's redirect with a code for Ada.
    assert_eq!(result["recovery_status"], 200, "{result}");
    assert_eq!(result["recovery_heading"], "Save your recovery codes");
    assert_eq!(result["recovery_codes"].as_array().map(Vec::len), Some(10), "{result}");
    assert!(result["recovery_scroll_width"].as_f64().unwrap() <= 360.0, "{result}");
    let callback = url::Url::parse(result["callback"].as_str().expect("the redirect URI was reached")).unwrap();
    let param = |name: &str| callback.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned());
    assert_eq!(param("state").as_deref(), Some("st-mfa"));
    let (status, tokens) = stack.exchange_code(&app, &param("code").expect("a code"), &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(stack.verify_user_token(tokens["access_token"].as_str().unwrap()).await["sub"], ada.as_str());
    assert!(screenshots().join("mfa-enrol.png").exists() && screenshots().join("mfa-recovery.png").exists());
}
