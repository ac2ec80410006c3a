//! Sign-up on claimflow's own pages: off unless an application allows it; `prompt=create` (and
//! the login page's link) shows the form; `user:pre_registration` and
//! `user:new_password_provided` can refuse it, and a refusal leaves no user behind.

use claimflow_e2e::{pkce, Answer, Browser, Stack, WebApp};
use reqwest::Method;
use serde_json::json;

const PASSWORD: &str = "sign me up 42";

async fn allow_sign_up(stack: &Stack, app: &WebApp) {
    let body = json!({ "allow_signup": true });
    let (status, answer) =
        stack.management(Method::PATCH, &format!("applications/{}", app.client_id), Some(body)).await;
    assert_eq!(status, 200, "{answer}");
}

/// The sign-up page for `app` (`prompt=create`), with `extra` authorization parameters.
async fn sign_up_page(stack: &Stack, browser: &Browser, app: &WebApp, extra: &[(&str, &str)]) -> (Answer, String) {
    let (verifier, challenge) = pkce();
    let mut params = vec![
        ("scope", "openid profile email"),
        ("state", "st-9"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("prompt", "create"),
    ];
    params.extend_from_slice(extra);
    (browser.get(&stack.authorize_url(app, &params)).await, verifier)
}

async fn submit(stack: &Stack, browser: &Browser, page: &Answer, email: &str, password: &str, again: &str) -> Answer {
    let mut form = page.hidden_fields();
    for (name, value) in [
        ("given_name", "Grace"),
        ("family_name", "Hopper"),
        ("email", email),
        ("password", password),
        ("password_confirmation", again),
    ] {
        form.push((name.into(), value.into()));
    }
    browser.post(&stack.url("/oauth2/signup"), &form).await
}

async fn user_count(stack: &Stack) -> usize {
    let (status, users) = stack.management(Method::GET, "users", None).await;
    assert_eq!(status, 200, "{users}");
    users["users"].as_array().map(Vec::len).unwrap_or(0)
}

#[tokio::test]
async fn sign_up_is_off_until_the_application_allows_it_then_makes_an_account_and_signs_it_in() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    let browser = Browser::default();
    let (page, _) = sign_up_page(&stack, &browser, &app, &[]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("Sign-up is not available"), "{}", page.body);
    let login = browser.get(&stack.authorize_url(&app, &[])).await;
    assert!(!login.body.contains("Create an account"), "no link while it is off");

    allow_sign_up(&stack, &app).await;
    let login = browser.get(&stack.authorize_url(&app, &[("state", "st-9")])).await;
    assert!(login.body.contains("Create an account") && login.body.contains("prompt=create"), "{}", login.body);
    let (page, verifier) = sign_up_page(&stack, &browser, &app, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Create your account"), "{}", page.body);

    // Passwords that differ, or are too short: refused at the password fields, nothing made.
    let answer = submit(&stack, &browser, &page, "grace@example.com", PASSWORD, "something else 1").await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("The passwords do not match."), "{}", answer.body);
    let answer = submit(&stack, &browser, &page, "grace@example.com", "short", "short").await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("Password must be 8 to 1024 characters."), "{}", answer.body);
    assert_eq!(user_count(&stack).await, 0);

    // The account is made and signed in: a code at the redirect, tokens with the new user.
    let answer = submit(&stack, &browser, &page, "grace@example.com", PASSWORD, PASSWORD).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(answer.param("state").as_deref(), Some("st-9"));
    let code = answer.param("code").unwrap_or_else(|| panic!("a code: {:?}", answer.location));
    let (status, tokens) = stack.exchange_code(&app, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let id = stack.verify_user_token(tokens["id_token"].as_str().unwrap()).await;
    assert_eq!((id["email"].as_str(), id["given_name"].as_str()), (Some("grace@example.com"), Some("Grace")), "{id}");
    assert!(browser.has_cookie("claimflow_session"));

    // The password works for a plain sign-in; the email cannot sign up twice.
    stack.user_tokens(&app, "grace@example.com", PASSWORD, &[]).await;
    let (page, _) = sign_up_page(&stack, &browser, &app, &[]).await;
    assert_eq!(page.status, 200, "prompt=create shows the form even with a session: {}", page.body);
    let again = submit(&stack, &browser, &page, "grace@example.com", PASSWORD, PASSWORD).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("An account with this email already exists."), "{}", again.body);
    assert_eq!(user_count(&stack).await, 1);
}

const PRE_REGISTRATION: &str = r#"import { WorkflowSettings, WorkflowTrigger, denyAccess } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {
  id: "gateSignUps", trigger: WorkflowTrigger.UserPreRegistration, bindings: { "kinde.auth": {} } };
export default async function gate(event: any) {
  console.log(`sign-up for ${event.context.application.clientId} via ${event.context.auth.connectionId}`);
  if ((event.request.authUrlParams.loginHint ?? "").endsWith("@blocked.example")) {
    denyAccess("Sign-ups from blocked.example are closed");
  }
}
"#;

const NEW_PASSWORD: &str = r#"import { WorkflowSettings, WorkflowTrigger, invalidateFormField } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {
  id: "passwordRules", trigger: WorkflowTrigger.NewPasswordProvided, bindings: { "kinde.widget": {} } };
export default async function rules(event: any) {
  const auth = event.context.auth;
  console.log(`${auth.newPasswordReason} password ${auth.firstPassword} / ${auth.secondPassword} for ${event.context.user.email}`);
  if (!/[0-9]/.test(auth.firstPassword)) invalidateFormField("p_first_password", "Use at least one digit.");
}
"#;

const POST_AUTH: &str = r#"import { WorkflowSettings, WorkflowTrigger } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = { id: "afterSignUp", trigger: WorkflowTrigger.PostAuthentication };
export default async function after(event: any) {
  console.log(`new user: ${event.context.auth.isNewUserRecordCreated}`);
}
"#;

#[tokio::test]
async fn sign_up_workflows_refuse_with_their_messages_and_leave_no_user() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    allow_sign_up(&stack, &app).await;
    for (path, source) in [
        ("kindeSrc/environment/workflows/gateSignUps/Workflow.ts", PRE_REGISTRATION),
        ("kindeSrc/environment/workflows/passwordRules/Workflow.ts", NEW_PASSWORD),
        ("kindeSrc/environment/workflows/afterSignUp/Workflow.ts", POST_AUTH),
    ] {
        let (status, body) = stack.deploy(&[(path, source)]).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let browser = Browser::default();

    // user:pre_registration denies: its reason on the page.
    let (page, _) = sign_up_page(&stack, &browser, &app, &[("login_hint", "eve@blocked.example")]).await;
    let answer = submit(&stack, &browser, &page, "eve@blocked.example", PASSWORD, PASSWORD).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(answer.body.contains("Sign-ups from blocked.example are closed"), "{}", answer.body);

    // user:new_password_provided refuses the password: its message at the password fields.
    let (page, verifier) = sign_up_page(&stack, &browser, &app, &[]).await;
    let answer = submit(&stack, &browser, &page, "grace@example.com", "no digits at all", "no digits at all").await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("Use at least one digit."), "{}", answer.body);
    assert_eq!(user_count(&stack).await, 0, "a refused sign-up leaves no user");

    // Accepted: the account is made; post-authentication hears it is new.
    let answer = submit(&stack, &browser, &page, "grace@example.com", PASSWORD, PASSWORD).await;
    let code = answer.param("code").unwrap_or_else(|| panic!("signed up: {} {:?}", answer.body, answer.location));
    assert_eq!(stack.exchange_code(&app, &code, &verifier).await.0, 200);

    let runs = stack.runs().await;
    let logs = |trigger: &str| -> Vec<String> {
        runs.iter()
            .filter(|run| run["trigger"] == trigger)
            .map(|run| run["logs"][0]["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(logs("user:pre_registration").len(), 3, "{runs:?}");
    assert!(logs("user:pre_registration")[0].contains("via conn_password"), "{runs:?}");
    let passwords = logs("user:new_password_provided");
    assert_eq!(passwords.len(), 2, "{runs:?}");
    assert!(
        passwords.contains(&"initial password [redacted] / [redacted] for grace@example.com".to_owned()),
        "{passwords:?}"
    );
    let text: String = serde_json::to_string(&runs).unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains("no digits at all"), "a password in a run record: {text}");
    assert_eq!(logs("user:post_authentication"), ["new user: true"], "{runs:?}");
}

#[tokio::test]
async fn sign_ups_from_one_address_are_rate_limited_as_failed_sign_ins_are() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    allow_sign_up(&stack, &app).await;
    stack.user_with_password("taken@example.com", "Taken", "T", PASSWORD).await;
    let browser = Browser::default();
    let (page, _) = sign_up_page(&stack, &browser, &app, &[]).await;
    // The harness allows 20 per address in 15 minutes; each sign-up sent counts, made or not.
    for attempt in 1..=20 {
        let answer = submit(&stack, &browser, &page, "taken@example.com", PASSWORD, PASSWORD).await;
        assert_eq!(answer.status, 409, "attempt {attempt}: {}", answer.body);
    }
    let answer = submit(&stack, &browser, &page, "new@example.com", PASSWORD, PASSWORD).await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert!(answer.body.contains("Too many sign-ups from your network. Try again in 15 minutes."), "{}", answer.body);
    assert_eq!(user_count(&stack).await, 1, "nothing made once throttled");
}
