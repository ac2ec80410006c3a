//! User tokens through a real OpenID Connect flow: the `openid-client` relying party, the claims
//! Kinde puts in user tokens, and Kinde's documented `user:tokens_generation` examples on
//! sign-in, silent re-authentication and refresh.

use std::process::Command;

use claimflow_e2e::{Browser, Stack, WebApp};
use reqwest::Method;
use serde_json::{json, Value};

/// Runs `tests/npm/oidc-rp.mjs` (openid-client) against the stack for `app`.
pub(crate) async fn openid_client(stack: &Stack, app: &WebApp, email: &str, password: &str) -> Value {
    assert!(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/npm/node_modules/openid-client")).exists(),
        "install the npm test dependencies: npm ci --prefix tests/npm (scripts/test does)"
    );
    let mut command = Command::new("node");
    command
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/npm/oidc-rp.mjs"))
        .env("ISSUER", &stack.issuer)
        .env("CLIENT_ID", &app.client_id)
        .env("REDIRECT_URI", &app.redirect_uri)
        .env("EMAIL", email)
        .env("PASSWORD", password);
    if let Some(secret) = &app.client_secret {
        command.env("CLIENT_SECRET", secret);
    }
    let output = tokio::task::spawn_blocking(move || command.output().expect("node runs")).await.unwrap();
    let result: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("the relying party prints JSON: {}", String::from_utf8_lossy(&output.stderr)));
    assert!(output.status.success(), "the relying party failed: {result} {}", String::from_utf8_lossy(&output.stderr));
    result
}

#[tokio::test]
async fn openid_client_signs_in_with_pkce_refreshes_and_validates_the_id_token() {
    let stack = Stack::start().await;
    let user_id = stack.user_with_password("ada@example.com", "Ada", "Lovelace", "correct horse battery").await;
    for kind in ["reg", "spa"] {
        let app = stack.web_app(kind).await;
        assert_eq!(app.client_secret.is_some(), kind == "reg", "SPAs are public clients");
        let rp = openid_client(&stack, &app, "ada@example.com", "correct horse battery").await;

        assert_eq!(rp["login_page_status"], 200);
        assert_eq!(rp["id_signature_verified"], true, "{rp}");
        assert_eq!(rp["at_hash_verified"], true, "{rp}");
        let id = &rp["id_claims"];
        assert_eq!(id["sub"], user_id.as_str());
        assert_eq!(id["aud"], json!([app.client_id]));
        assert_eq!(id["azp"], app.client_id.as_str());
        assert_eq!((id["email"].as_str(), id["given_name"].as_str()), (Some("ada@example.com"), Some("Ada")));
        assert_eq!((id["family_name"].as_str(), id["name"].as_str()), (Some("Lovelace"), Some("Ada Lovelace")));
        for claim in ["auth_time", "exp", "iat", "iss", "jti", "rat", "sid", "updated_at", "nonce", "org_codes"] {
            assert!(id.get(claim).is_some(), "the ID token has {claim}: {id}");
        }
        assert!(rp["refresh_token"].as_str().is_some_and(|t| t.len() >= 43), "offline gives a refresh token");

        // prompt=none on the browser's session: no login page, same session, same auth_time.
        assert!([302, 303].contains(&rp["silent_status"].as_u64().unwrap()), "{rp}");
        assert_eq!(rp["silent_id_claims"]["sid"], id["sid"]);
        assert_eq!(rp["silent_id_claims"]["auth_time"], id["auth_time"]);
        assert_eq!(rp["silent_id_signature_verified"], true);

        // Refresh: new tokens, a new refresh token, the same user.
        assert_ne!(rp["refreshed_refresh_token"], rp["refresh_token"], "refresh tokens rotate");
        assert_ne!(rp["refreshed_access_token"], rp["access_token"]);
        assert_eq!(rp["refreshed_id_claims"]["sub"], user_id.as_str());
        assert_eq!(rp["refreshed_id_signature_verified"], true);
        assert_eq!(rp["userinfo"]["sub"], user_id.as_str());
        assert_eq!(rp["userinfo"]["email"], "ada@example.com");

        // The refresh token the relying party spent is spent.
        let (status, body) = stack.refresh(&app, rp["refresh_token"].as_str().unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    }
}

#[tokio::test]
async fn discovery_lists_the_user_flows() {
    let stack = Stack::start().await;
    let document: Value =
        stack.http.get(stack.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(document["authorization_endpoint"], stack.url("/oauth2/auth"));
    assert_eq!(document["userinfo_endpoint"], stack.url("/oauth2/userinfo"));
    assert_eq!(document["revocation_endpoint"], stack.url("/oauth2/revoke"));
    assert_eq!(document["end_session_endpoint"], stack.url("/logout"));
    assert_eq!(document["code_challenge_methods_supported"], json!(["S256"]));
    for grant in ["authorization_code", "refresh_token", "client_credentials"] {
        assert!(document["grant_types_supported"].as_array().unwrap().contains(&json!(grant)), "{grant}");
    }
    assert!(document["scopes_supported"].as_array().unwrap().contains(&json!("offline")));
}

/// A user in an organization with a role (carrying a permission), a direct permission, a feature
/// flag, and an API the application is authorized for.
async fn populated_stack() -> (Stack, WebApp, String, String) {
    let stack = Stack::start().await;
    let user_id = stack.user_with_password("grace@example.com", "Grace", "Hopper", "cobol-forever-1959").await;
    let (_, read) =
        stack.management(Method::POST, "permissions", Some(json!({ "name": "Read", "key": "read:orders" }))).await;
    let read_id = read["permission"]["id"].as_str().unwrap().to_owned();
    stack.management(Method::POST, "permissions", Some(json!({ "name": "Refund", "key": "refund" }))).await;
    let (_, role) = stack.management(Method::POST, "roles", Some(json!({ "name": "Support", "key": "support" }))).await;
    let role_id = role["role"]["id"].as_str().unwrap().to_owned();
    stack
        .management(
            Method::PATCH,
            &format!("roles/{role_id}/permissions"),
            Some(json!({ "permissions": [{ "id": read_id }] })),
        )
        .await;
    stack
        .management(
            Method::POST,
            "feature_flags",
            Some(json!({ "name": "Theme", "key": "theme", "type": "str", "default_value": "pink" })),
        )
        .await;
    let (_, org) = stack.management(Method::POST, "organization", Some(json!({ "name": "Acme" }))).await;
    let org_code = org["organization"]["code"].as_str().unwrap().to_owned();
    let (status, body) = stack
        .management(
            Method::POST,
            &format!("organizations/{org_code}/users"),
            Some(json!({ "users": [{ "id": user_id, "roles": ["support"], "permissions": ["refund"] }] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let app = stack.web_app("reg").await;
    let (_, api) =
        stack.management(Method::POST, "apis", Some(json!({ "name": "Orders", "audience": "https://orders" }))).await;
    let api_id = api["api"]["id"].as_str().unwrap();
    stack
        .management(
            Method::PATCH,
            &format!("apis/{api_id}/applications"),
            Some(json!({ "applications": [{ "id": app.client_id }] })),
        )
        .await;
    (stack, app, user_id, org_code)
}

#[tokio::test]
async fn user_tokens_carry_kindes_claims() {
    let (stack, app, user_id, org_code) = populated_stack().await;
    let tokens = stack
        .user_tokens(
            &app,
            "Grace@Example.com",
            "cobol-forever-1959",
            &[("audience", "https://orders"), ("org_code", &org_code)],
        )
        .await;
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["scope"], "openid profile email offline");
    let access =
        stack.verify(tokens["access_token"].as_str().unwrap(), "https://orders").await.expect("valid for the API");
    assert_eq!(access["sub"], user_id.as_str());
    assert_eq!(access["azp"], app.client_id.as_str());
    assert_eq!(access["aud"], json!(["https://orders"]));
    assert_eq!(access["org_code"], org_code.as_str());
    assert_eq!(access["permissions"], json!(["read:orders", "refund"]), "direct and through the role");
    assert_eq!(access["roles"][0]["key"], "support");
    assert_eq!(access["roles"][0]["name"], "Support");
    assert!(access["roles"][0]["id"].as_str().is_some_and(|id| id.starts_with("role_")));
    assert_eq!(access["feature_flags"], json!({ "theme": { "t": "s", "v": "pink" } }));
    assert_eq!(access["scp"], json!(["openid", "profile", "email", "offline"]));
    assert_eq!(access["v"], "2");
    for claim in ["exp", "iat", "iss", "jti"] {
        assert!(access.get(claim).is_some(), "{claim}");
    }
    let id = stack.verify_user_token(tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id["org_codes"], json!([org_code]));
    assert_eq!(id["nonce"], "n-1");

    // An organization the user is not a member of is refused at the redirect.
    let browser = Browser::default();
    let (answer, _) =
        stack.sign_in(&browser, &app, "grace@example.com", "cobol-forever-1959", &[("org_code", "org_nothere")]).await;
    assert_eq!(answer.param("error").as_deref(), Some("access_denied"));
    assert!(answer.param("error_description").unwrap().contains("org_nothere"));
    assert_eq!(answer.param("state").as_deref(), Some("st-1"));
    assert!(answer.param("code").is_none());

    // userinfo takes the access token; anything else is invalid_token.
    // Kinde's SDKs read its /oauth2/v2/user_profile path and names; both answer the same.
    for path in ["/oauth2/userinfo", "/oauth2/v2/user_profile"] {
        let info: Value = stack
            .http
            .get(stack.url(path))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (info["sub"].as_str(), info["given_name"].as_str()),
            (Some(user_id.as_str()), Some("Grace")),
            "{path}"
        );
        assert_eq!(
            (info["id"].as_str(), info["first_name"].as_str()),
            (Some(user_id.as_str()), Some("Grace")),
            "{path}"
        );
        assert_eq!(info["preferred_email"], "grace@example.com", "{path}");
    }
    let refused = stack.http.get(stack.url("/oauth2/userinfo")).bearer_auth("not-a-token").send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
}

const USER_SETTINGS: &str = r#"import {
  onUserTokenGeneratedEvent,
  WorkflowSettings,
  WorkflowTrigger,
  accessTokenCustomClaims,
  idTokenCustomClaims,
  getEnvironmentVariable,
  fetch,
  denyAccess,
} from "@kinde/infrastructure";
"#;

/// Signs in, then refreshes: both token responses.
async fn sign_in_and_refresh(stack: &Stack, app: &WebApp) -> (Value, Value) {
    let tokens =
        stack.user_tokens(app, "grace@example.com", "cobol-forever-1959", &[("audience", "https://orders")]).await;
    let (status, refreshed) = stack.refresh(app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "refresh: {refreshed}");
    (tokens, refreshed)
}

async fn claims(stack: &Stack, tokens: &Value) -> (Value, Value) {
    (
        stack.verify_user_token(tokens["access_token"].as_str().unwrap()).await,
        stack.verify_user_token(tokens["id_token"].as_str().unwrap()).await,
    )
}

#[tokio::test]
async fn kindes_user_token_examples_shape_tokens_on_sign_in_and_refresh() {
    let (stack, app, _, _) = populated_stack().await;
    let (plain, _) = sign_in_and_refresh(&stack, &app).await;
    let plain_size = plain["access_token"].as_str().unwrap().len();

    // Kinde's "add a claim to the access token" example.
    stack
        .deploy_user_workflow(&format!(
            r#"{USER_SETTINGS}
export const workflowSettings: WorkflowSettings = {{
  id: "addAccessTokenClaim",
  name: "Add access token claim",
  trigger: WorkflowTrigger.UserTokenGeneration,
  bindings: {{ "kinde.accessToken": {{}} }},
}};

export default async function Workflow(event: onUserTokenGeneratedEvent) {{
  const accessToken = accessTokenCustomClaims<{{ companyName: string }}>();
  accessToken.companyName = "Acme Corp";
}}
"#
        ))
        .await;
    for tokens in <[Value; 2]>::from(sign_in_and_refresh(&stack, &app).await) {
        let (access, _) = claims(&stack, &tokens).await;
        assert_eq!(access["companyName"], "Acme Corp", "{access}");
    }

    // Kinde's "reduce token size": empty permissions and feature flags.
    stack
        .deploy_user_workflow(&format!(
            r#"{USER_SETTINGS}
export const workflowSettings: WorkflowSettings = {{
  id: "addAccessTokenClaim",
  trigger: WorkflowTrigger.UserTokenGeneration,
  bindings: {{ "kinde.accessToken": {{}} }},
}};

export default async function Workflow(event: onUserTokenGeneratedEvent) {{
  const accessToken = accessTokenCustomClaims<{{ permissions: string[]; feature_flags: object }}>();
  accessToken.permissions = [];
  accessToken.feature_flags = {{}};
}}
"#
        ))
        .await;
    for tokens in <[Value; 2]>::from(sign_in_and_refresh(&stack, &app).await) {
        let (access, _) = claims(&stack, &tokens).await;
        assert_eq!((&access["permissions"], &access["feature_flags"]), (&json!([]), &json!({})));
        let size = tokens["access_token"].as_str().unwrap().len();
        assert!(size < plain_size, "the token shrank: {size} < {plain_size}");
    }

    // Kinde's ID token example: house and name.
    stack
        .deploy_user_workflow(&format!(
            r#"{USER_SETTINGS}
export const workflowSettings: WorkflowSettings = {{
  id: "addAccessTokenClaim",
  trigger: WorkflowTrigger.UserTokenGeneration,
  bindings: {{ "kinde.idToken": {{}} }},
}};

export default async function Workflow(event: onUserTokenGeneratedEvent) {{
  const idToken = idTokenCustomClaims<{{ house: string; name: string }}>();
  idToken.house = "Gryffindor";
  idToken.name = `${{event.context.user.id}} of Gryffindor`;
}}
"#
        ))
        .await;
    for tokens in <[Value; 2]>::from(sign_in_and_refresh(&stack, &app).await) {
        let (access, id) = claims(&stack, &tokens).await;
        assert_eq!(id["house"], "Gryffindor");
        assert_eq!(id["name"], format!("{} of Gryffindor", id["sub"].as_str().unwrap()));
        assert!(access.get("house").is_none(), "only the ID token was changed");
    }

    // A claim from an external API, called with an API key from an environment variable.
    let crm = crm_server().await;
    stack
        .management(
            Method::POST,
            "environment_variables",
            Some(json!({ "key": "CRM_API_KEY", "value": "crm-key-123", "is_secret": true })),
        )
        .await;
    stack
        .deploy_user_workflow(&format!(
            r#"{USER_SETTINGS}
export const workflowSettings: WorkflowSettings = {{
  id: "addAccessTokenClaim",
  trigger: WorkflowTrigger.UserTokenGeneration,
  bindings: {{ "kinde.accessToken": {{}}, "kinde.fetch": {{}}, "kinde.env": {{}} }},
}};

export default async function Workflow(event: onUserTokenGeneratedEvent) {{
  const apiKey = getEnvironmentVariable("CRM_API_KEY")?.value;
  const {{ data }} = await fetch("{crm}/customers/" + event.context.user.id, {{
    method: "GET",
    headers: {{ authorization: `Bearer ${{apiKey}}` }},
  }});
  const accessToken = accessTokenCustomClaims<{{ subscription: string; origin: string }}>();
  accessToken.subscription = data.plan;
  accessToken.origin = event.context.auth.origin;
}}
"#
        ))
        .await;
    let (signed_in, refreshed) = sign_in_and_refresh(&stack, &app).await;
    let (access, _) = claims(&stack, &signed_in).await;
    assert_eq!(access["subscription"], "pro", "{access}");
    assert_eq!(access["origin"], "authorization_request");
    let (access, _) = claims(&stack, &refreshed).await;
    assert_eq!(access["subscription"], "pro");
    assert_eq!(access["origin"], "refresh_token_request");
}

/// A CRM stand-in: answers `{"plan":"pro"}` only with the right API key.
async fn crm_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut request = vec![0; 8192];
                let read = socket.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..read]).to_lowercase();
                let (status, body) = if request.contains("authorization: bearer crm-key-123") {
                    ("200 OK", r#"{"plan":"pro"}"#)
                } else {
                    ("401 Unauthorized", r#"{"error":"bad key"}"#)
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_event_has_kindes_shape_for_all_three_origins_and_deny_access_reaches_the_redirect() {
    let (stack, app, user_id, org_code) = populated_stack().await;
    stack
        .deploy_user_workflow(&format!(
            r#"{USER_SETTINGS}
export const workflowSettings: WorkflowSettings = {{
  id: "inspect",
  trigger: WorkflowTrigger.UserTokenGeneration,
  bindings: {{ "kinde.accessToken": {{}}, "kinde.auth": {{}} }},
}};

export default async function Workflow(event: onUserTokenGeneratedEvent) {{
  if (event.request.userAgent === "blocked-agent") {{
    denyAccess("this device is blocked");
    return;
  }}
  const accessToken = accessTokenCustomClaims<{{ seen: object }}>();
  accessToken.seen = {{
    origin: event.context.auth.origin,
    existing: event.context.auth.isExistingSession,
    connection: event.context.auth.connectionId,
    user: event.context.user.id,
    identity: event.context.user.identityId,
    org: event.context.organization?.code,
    client: event.context.application.clientId,
    audience: event.request.auth.audience,
    ip: event.request.ip,
    trigger: event.context.workflow.trigger,
  }};
}}
"#
        ))
        .await;
    let browser = Browser::default();
    let (answer, verifier) = stack
        .sign_in(&browser, &app, "grace@example.com", "cobol-forever-1959", &[("audience", "https://orders")])
        .await;
    let (_, tokens) = stack.exchange_code(&app, &answer.param("code").unwrap(), &verifier).await;
    let seen = stack.verify_user_token(tokens["access_token"].as_str().unwrap()).await["seen"].clone();
    assert_eq!(seen["origin"], "authorization_request");
    assert_eq!(seen["existing"], false);
    assert_eq!(seen["connection"], "conn_password");
    assert_eq!(seen["user"], user_id.as_str());
    assert!(seen["identity"].as_str().is_some_and(|id| id.starts_with("identity_")));
    assert_eq!(seen["org"], org_code.as_str());
    assert_eq!(seen["client"], app.client_id.as_str());
    assert_eq!(seen["audience"], json!(["https://orders"]));
    assert_eq!(seen["ip"], "127.0.0.1");
    assert_eq!(seen["trigger"], "user:tokens_generation");

    // Silent re-authentication on the browser's session.
    let (verifier, challenge) = claimflow_e2e::pkce();
    let silent = browser
        .get(&stack.authorize_url(
            &app,
            &[
                ("scope", "openid offline"),
                ("prompt", "none"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        ))
        .await;
    assert_eq!(silent.status, 302, "{}", silent.body);
    let (_, silent_tokens) = stack.exchange_code(&app, &silent.param("code").unwrap(), &verifier).await;
    let seen = stack.verify_user_token(silent_tokens["access_token"].as_str().unwrap()).await["seen"].clone();
    assert_eq!((seen["origin"].as_str(), seen["existing"].as_bool()), (Some("authorization_request"), Some(true)));

    let (status, refreshed) = stack.refresh(&app, silent_tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    let seen = stack.verify_user_token(refreshed["access_token"].as_str().unwrap()).await["seen"].clone();
    assert_eq!(seen["origin"], "refresh_token_request");

    // denyAccess: the client gets access_denied with the reason at its redirect URI, no code.
    let blocked = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("blocked-agent")
        .build()
        .unwrap();
    let (_, challenge) = claimflow_e2e::pkce();
    let page =
        blocked
            .get(stack.authorize_url(
                &app,
                &[("state", "s9"), ("code_challenge", &challenge), ("code_challenge_method", "S256")],
            ))
            .send()
            .await
            .unwrap();
    let csrf_cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = claimflow_e2e::Answer { status: 200, location: None, body: page.text().await.unwrap() };
    let mut form = page.hidden_fields();
    form.extend([
        ("email".to_owned(), "grace@example.com".to_owned()),
        ("password".to_owned(), "cobol-forever-1959".to_owned()),
    ]);
    let denied =
        blocked.post(stack.url("/oauth2/auth")).header("cookie", csrf_cookie).form(&form).send().await.unwrap();
    let location = url::Url::parse(denied.headers()["location"].to_str().unwrap()).unwrap();
    let params: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(params.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(params.get("error_description").map(String::as_str), Some("this device is blocked"));
    assert_eq!(params.get("state").map(String::as_str), Some("s9"));
    assert!(!params.contains_key("code"));
    let runs = stack.runs().await;
    assert!(runs.iter().any(|run| run["trigger"] == "user:tokens_generation"), "runs are recorded: {runs:?}");
}

/// `kinde.ssoSession.setPolicy(...)` at sign-in: `non_persistent` makes the session cookie end
/// with the browser (no Max-Age), `persistent` keeps it for the session lifetime.
#[tokio::test]
async fn a_workflow_sets_the_sign_in_sessions_persistence() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    stack.user_with_password("ada@example.com", "Ada", "Lovelace", "correct horse battery").await;
    let workflow = |policy: &str| {
        format!(
            r#"import {{ WorkflowSettings, WorkflowTrigger }} from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {{
  id: "sessionPolicy",
  trigger: WorkflowTrigger.UserTokenGeneration,
  bindings: {{ "kinde.ssoSession": {{}} }},
}};
export default async function (event: any) {{
  kinde.ssoSession.setPolicy({policy});
}}
"#
        )
    };
    let session_cookie = |browser: &Browser| browser.set_cookie_header("claimflow_session").expect("a session cookie");

    // Without a workflow the session persists (the configured lifetime).
    let browser = Browser::default();
    let (answer, _) = stack.sign_in(&browser, &app, "ada@example.com", "correct horse battery", &[]).await;
    assert!(answer.param("code").is_some(), "{:?}", answer.location);
    assert!(session_cookie(&browser).contains("Max-Age="), "{}", session_cookie(&browser));

    stack.deploy_user_workflow(&workflow("\"non_persistent\"")).await;
    let browser = Browser::default();
    let (answer, verifier) = stack.sign_in(&browser, &app, "ada@example.com", "correct horse battery", &[]).await;
    let code = answer.param("code").unwrap_or_else(|| panic!("signed in: {:?}", answer.location));
    assert!(!session_cookie(&browser).contains("Max-Age"), "a browser-session cookie: {}", session_cookie(&browser));
    let (status, tokens) = stack.exchange_code(&app, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    // The policy holds on the next, silent sign-in too, whatever the workflow says then.
    stack.deploy_user_workflow(&workflow("\"persistent\"")).await;
    let (_, challenge) = claimflow_e2e::pkce();
    let silent = browser
        .get(&stack.authorize_url(&app, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]))
        .await;
    assert!(silent.param("code").is_some(), "the session signs in silently: {:?}", silent.location);
    assert!(session_cookie(&browser).contains("Max-Age="), "persistent again: {}", session_cookie(&browser));

    // A policy Kinde does not have fails the sign-in (failurePolicy stop) with the workflow's error.
    stack.deploy_user_workflow(&workflow("\"forever\"")).await;
    let browser = Browser::default();
    let (answer, _) = stack.sign_in(&browser, &app, "ada@example.com", "correct horse battery", &[]).await;
    assert_eq!(answer.param("error").as_deref(), Some("server_error"), "{:?}", answer.location);
    let runs = stack.runs().await;
    let error = runs[0]["error"].as_str().unwrap();
    assert!(error.contains("the policy must be \"persistent\" or \"non_persistent\", not \"forever\""), "{error}");

    // M2M tokens have no session: calling it there is refused at deploy, naming where it works.
    let m2m = claimflow_e2e::m2m_workflow(
        "m2mSession",
        "",
        r#""kinde.ssoSession": {}"#,
        "  kinde.ssoSession.setPolicy(\"persistent\");",
    );
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/m2m/Workflow.ts", &m2m)]).await;
    assert_eq!(status, 400, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("kinde.ssoSession is not offered on m2m:token_generation"), "{message}");
    assert!(message.contains("user:tokens_generation (at sign-in)"), "{message}");
}
