//! Attacks on the sign-in flow: each gets the precise OAuth error (or a page, where redirecting
//! would be the attack) and issues nothing.

use std::time::Duration;

use claimflow_e2e::{pkce, Browser, Stack, StackOptions};

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery";

async fn signed_in_code(stack: &Stack, app: &claimflow_e2e::WebApp) -> (String, String) {
    let browser = Browser::default();
    let (answer, verifier) = stack.sign_in(&browser, app, EMAIL, PASSWORD, &[]).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    (answer.param("code").expect("a code"), verifier)
}

#[tokio::test]
async fn codes_are_bound_to_their_verifier_their_client_and_one_use() {
    let stack = Stack::start().await;
    stack.user_with_password(EMAIL, "Ada", "Lovelace", PASSWORD).await;
    let app = stack.web_app("reg").await;
    let other = stack.web_app("reg").await;

    let (code, _) = signed_in_code(&stack, &app).await;
    let (wrong_verifier, _) = pkce();
    let (status, body) = stack.exchange_code(&app, &code, &wrong_verifier).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("code_verifier"));

    let (code, verifier) = signed_in_code(&stack, &app).await;
    let (status, body) = stack.exchange_code(&other, &code, &verifier).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("another client"));

    // Reused: the second exchange fails and revokes the refresh token the first one got.
    let (code, verifier) = signed_in_code(&stack, &app).await;
    let (status, first) = stack.exchange_code(&app, &code, &verifier).await;
    assert_eq!(status, 200, "{first}");
    let (status, body) = stack.exchange_code(&app, &code, &verifier).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("already used"));
    let (status, body) = stack.refresh(&app, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");

    // A wrong redirect_uri at the exchange, and a wrong client secret.
    let (code, verifier) = signed_in_code(&stack, &app).await;
    let (status, body) = stack
        .user_token_request(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let impostor = claimflow_e2e::WebApp { client_secret: Some("wrong".into()), ..stack.web_app("reg").await };
    let (status, body) = stack.exchange_code(&impostor, "whatever", &verifier).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");

    // A SPA must use PKCE.
    let spa = stack.web_app("spa").await;
    let answer = Browser::default().get(&stack.authorize_url(&spa, &[("state", "x")])).await;
    assert_eq!(answer.status, 302);
    assert_eq!(answer.param("error").as_deref(), Some("invalid_request"));
    assert!(answer.param("error_description").unwrap().contains("PKCE"));
    // plain PKCE is refused.
    let answer = Browser::default()
        .get(&stack.authorize_url(&app, &[("code_challenge", "abc"), ("code_challenge_method", "plain")]))
        .await;
    assert_eq!(answer.param("error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn unregistered_redirect_uris_get_a_page_never_a_redirect() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    let registered = app.redirect_uri.clone();
    for attempt in [
        "https://evil.example/callback".to_owned(),
        format!("{registered}/../../evil"),
        format!("{registered}?next=https://evil.example"),
        format!("{registered}#frag"),
        registered.replace("127.0.0.1:9", "127.0.0.1:9@evil.example"),
        registered.replace("http://", "https://"),
        registered.to_uppercase(),
        format!("{registered}x"),
    ] {
        let url = format!(
            "{}?client_id={}&response_type=code&redirect_uri={}",
            stack.url("/oauth2/auth"),
            app.client_id,
            url::form_urlencoded::byte_serialize(attempt.as_bytes()).collect::<String>()
        );
        let answer = Browser::default().get(&url).await;
        assert_eq!(answer.status, 400, "{attempt}: {}", answer.body);
        assert!(answer.location.is_none(), "{attempt} must not redirect");
        assert!(answer.body.contains("is not registered"), "{}", answer.body);
    }
    let unknown =
        Browser::default().get(&stack.url("/oauth2/auth?client_id=nope&redirect_uri=https://evil.example")).await;
    assert_eq!((unknown.status, unknown.location.is_none()), (400, true));

    // Sign-out redirects only to registered logout URLs.
    let answer = Browser::default()
        .get(&stack.url(&format!("/logout?client_id={}&post_logout_redirect_uri=https://evil.example", app.client_id)))
        .await;
    assert_eq!((answer.status, answer.location.is_none()), (400, true));
    let answer = Browser::default().get(&stack.url("/logout?redirect=https://evil.example")).await;
    assert_eq!((answer.status, answer.location.is_none()), (400, true));
    let answer = Browser::default()
        .get(&stack.url(&format!(
            "/logout?redirect={}&state=s",
            url::form_urlencoded::byte_serialize(app.logout_uri.as_bytes()).collect::<String>()
        )))
        .await;
    assert_eq!(answer.status, 302);
    assert_eq!(answer.location.as_deref(), Some(format!("{}?state=s", app.logout_uri).as_str()));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_its_family() {
    let stack = Stack::start().await;
    stack.user_with_password(EMAIL, "Ada", "Lovelace", PASSWORD).await;
    let app = stack.web_app("reg").await;
    let tokens = stack.user_tokens(&app, EMAIL, PASSWORD, &[]).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = stack.refresh(&app, &first).await;
    assert_eq!(status, 200, "{second}");
    let second = second["refresh_token"].as_str().unwrap().to_owned();

    // An attacker replays the first: refused, and the legitimate holder's newer token dies too.
    let (status, body) = stack.refresh(&app, &first).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("already used"));
    let (status, body) = stack.refresh(&app, &second).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("revoked"));

    // Another client cannot use a refresh token; revocation ends a family.
    let tokens = stack.user_tokens(&app, EMAIL, PASSWORD, &[]).await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let other = stack.web_app("reg").await;
    let (status, body) = stack.refresh(&other, token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let response = stack
        .http
        .post(stack.url("/oauth2/revoke"))
        .form(&[
            ("token", token),
            ("client_id", &app.client_id),
            ("client_secret", app.client_secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = stack.refresh(&app, token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");

    // No offline scope, no refresh token.
    let browser = Browser::default();
    let (verifier, challenge) = pkce();
    let page = browser
        .get(&stack.authorize_url(
            &app,
            &[("scope", "openid"), ("code_challenge", &challenge), ("code_challenge_method", "S256")],
        ))
        .await;
    let answer = browser.submit_login(&stack, &page, EMAIL, PASSWORD).await;
    let (_, tokens) = stack.exchange_code(&app, &answer.param("code").unwrap(), &verifier).await;
    assert!(tokens.get("refresh_token").is_none() && tokens["id_token"].is_string(), "{tokens}");
}

#[tokio::test]
async fn expired_refresh_tokens_are_refused() {
    let stack =
        Stack::start_with(StackOptions { refresh_token_lifetime: Duration::from_secs(1), ..Default::default() }).await;
    stack.user_with_password(EMAIL, "Ada", "Lovelace", PASSWORD).await;
    let app = stack.web_app("reg").await;
    let tokens = stack.user_tokens(&app, EMAIL, PASSWORD, &[]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) = stack.refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn the_login_form_refuses_cross_site_posts() {
    let stack = Stack::start().await;
    stack.user_with_password(EMAIL, "Ada", "Lovelace", PASSWORD).await;
    let app = stack.web_app("reg").await;
    let (_, challenge) = pkce();
    let url = stack.authorize_url(&app, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]);

    // The attacker's own form token, posted from the victim's browser (which has another cookie).
    let attacker = Browser::default();
    let attacker_page = attacker.get(&url).await;
    let victim = Browser::default();
    victim.get(&url).await;
    let answer = victim.submit_login(&stack, &attacker_page, EMAIL, PASSWORD).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(answer.location.is_none() && !victim.has_cookie("claimflow_session"));
    assert!(answer.body.contains("not sent from this site"));

    // No cookie at all.
    attacker.forget_cookie("claimflow_csrf");
    let answer = attacker.submit_login(&stack, &attacker_page, EMAIL, PASSWORD).await;
    assert_eq!(answer.status, 403);

    // The page is plain HTML that works without JavaScript and says what went wrong.
    let browser = Browser::default();
    let page = browser.get(&format!("{url}&login_hint=ada%40example.com")).await;
    assert!(page.body.contains("value=\"ada@example.com\""), "login_hint prefills the email: {}", page.body);
    assert!(page.body.contains("<label for=\"email\">") && page.body.contains("type=\"password\""));
    assert!(!page.body.contains("<script"));
    let wrong = browser.submit_login(&stack, &page, EMAIL, "wrong").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("The email or password is incorrect.") && wrong.body.contains("role=\"alert\""));
    let unknown = browser.submit_login(&stack, &page, "nobody@example.com", "wrong").await;
    assert_eq!(unknown.status, 401, "unknown accounts look like wrong passwords");
    assert!(unknown.body.contains("The email or password is incorrect."));
}

#[tokio::test]
async fn repeated_wrong_passwords_throttle_the_account_and_the_address() {
    let stack = Stack::start().await;
    stack.user_with_password(EMAIL, "Ada", "Lovelace", PASSWORD).await;
    stack.user_with_password("bob@example.com", "Bob", "B", "bobs password 1").await;
    let app = stack.web_app("reg").await;
    let browser = Browser::default();
    let (_, challenge) = pkce();
    let page = browser
        .get(&stack.authorize_url(&app, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]))
        .await;
    for _ in 0..5 {
        assert_eq!(browser.submit_login(&stack, &page, EMAIL, "guess").await.status, 401);
    }
    // Locked: even the right password is refused, and nothing is issued.
    let locked = browser.submit_login(&stack, &page, EMAIL, PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.location.is_none() && !browser.has_cookie("claimflow_session"));
    assert!(locked.body.contains("Too many failed sign-in attempts"));
    // Another account from the same address still signs in (below the address limit).
    let other = browser.submit_login(&stack, &page, "bob@example.com", "bobs password 1").await;
    assert_eq!(other.status, 303, "{}", other.body);

    // Per address: spraying many accounts from one address locks the address.
    for n in 0..15 {
        let answer = browser.submit_login(&stack, &page, &format!("spray{n}@example.com"), "guess").await;
        assert_eq!(answer.status, 401);
    }
    let answer = browser.submit_login(&stack, &page, "bob@example.com", "bobs password 1").await;
    assert_eq!(answer.status, 429, "{}", answer.body);
}

#[tokio::test]
async fn prompt_none_needs_a_session_and_logout_ends_it() {
    let stack = Stack::start().await;
    stack.user_with_password(EMAIL, "Ada", "Lovelace", PASSWORD).await;
    let app = stack.web_app("reg").await;
    let (_, challenge) = pkce();
    let silent = [
        ("prompt", "none"),
        ("state", "s1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let browser = Browser::default();
    let answer = browser.get(&stack.authorize_url(&app, &silent)).await;
    assert_eq!(answer.param("error").as_deref(), Some("login_required"));
    assert_eq!(answer.param("state").as_deref(), Some("s1"));

    let (answer, verifier) = stack.sign_in(&browser, &app, EMAIL, PASSWORD, &[]).await;
    let (_, tokens) = stack.exchange_code(&app, &answer.param("code").unwrap(), &verifier).await;
    let session_cookie = browser.set_cookie_header("claimflow_session").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(session_cookie.contains(attribute), "{attribute} in {session_cookie}");
    }
    assert!(!session_cookie.contains("Secure"), "an http issuer cannot set Secure cookies: {session_cookie}");
    let answer = browser.get(&stack.authorize_url(&app, &silent)).await;
    assert!(answer.param("code").is_some(), "{:?}", answer.location);
    // max_age: a sign-in older than that needs the password again.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let too_old = [silent.as_slice(), &[("max_age", "0")]].concat();
    let answer = browser.get(&stack.authorize_url(&app, &too_old)).await;
    assert_eq!(answer.param("error").as_deref(), Some("login_required"), "{:?}", answer.location);

    let logout = browser
        .get(&stack.url(&format!(
            "/logout?client_id={}&post_logout_redirect_uri={}",
            app.client_id,
            url::form_urlencoded::byte_serialize(app.logout_uri.as_bytes()).collect::<String>()
        )))
        .await;
    assert_eq!((logout.status, logout.location.as_deref()), (302, Some(app.logout_uri.as_str())));
    assert!(!browser.has_cookie("claimflow_session"));
    let answer = browser.get(&stack.authorize_url(&app, &silent)).await;
    assert_eq!(answer.param("error").as_deref(), Some("login_required"));
    let (status, body) = stack.refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "signing out revokes: {body}");
}
