//! What claimflow does by email, through a real SMTP conversation with a sink the test starts:
//! a sign-up proves its address with a code before its first session, a user nobody verified
//! does so at the first sign-in, and a forgotten password is reset with a code (through
//! `user:new_password_provided`, reason `reset`).

use claimflow_e2e::{pkce, Answer, Browser, MailSink, Stack, StackOptions, WebApp};
use reqwest::Method;
use serde_json::json;

async fn stack_with_mail() -> (Stack, MailSink, WebApp) {
    let sink = MailSink::start().await;
    let stack = Stack::start_with(StackOptions { smtp_url: Some(sink.url.clone()), ..StackOptions::default() }).await;
    let app = stack.web_app("reg").await;
    let body = json!({ "allow_signup": true });
    assert_eq!(stack.management(Method::PATCH, &format!("applications/{}", app.client_id), Some(body)).await.0, 200);
    (stack, sink, app)
}

fn authorize_params(challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("scope", "openid profile email".into()),
        ("state", "st-mail".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

async fn post(stack: &Stack, browser: &Browser, page: &Answer, path: &str, fields: &[(&str, &str)]) -> Answer {
    let mut form = page.hidden_fields();
    form.retain(|(name, _)| !fields.iter().any(|(field, _)| field == name));
    form.extend(fields.iter().map(|(name, value)| (name.to_string(), value.to_string())));
    browser.post(&stack.url(path), &form).await
}

#[tokio::test]
async fn a_sign_up_proves_its_address_with_the_emailed_code_before_its_first_session() {
    let (stack, sink, app) = stack_with_mail().await;
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/afterSignIn/Workflow.ts", POST_AUTH)]).await;
    assert_eq!(status, 200, "{body}");
    let browser = Browser::default();
    let (verifier, challenge) = pkce();
    let mut params = authorize_params(&challenge);
    params.push(("prompt", "create".into()));
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = browser.get(&stack.authorize_url(&app, &params)).await;
    let fields = [
        ("given_name", "Grace"),
        ("family_name", "Hopper"),
        ("email", "grace@example.com"),
        ("password", "sign me up 42"),
        ("password_confirmation", "sign me up 42"),
    ];
    let check = post(&stack, &browser, &page, "/oauth2/signup", &fields).await;
    assert_eq!(check.status, 200, "{}", check.body);
    assert!(check.body.contains("Check your email") && check.body.contains("grace@example.com"), "{}", check.body);
    assert!(!browser.has_cookie("claimflow_session"), "no session before the address is proved");

    let mail = sink.nth_to("grace@example.com", 1).await;
    assert!(mail.data.contains("Subject: Your code for Web shop"), "{}", mail.data);
    let code = mail.code(6).expect("a 6-digit code in the email");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let answer = post(&stack, &browser, &check, "/oauth2/verify", &[("code", wrong)]).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("That code is not right: 4 tries left."), "{}", answer.body);

    let answer = post(&stack, &browser, &answer, "/oauth2/verify", &[("code", &code)]).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let signed_in = answer.param("code").unwrap_or_else(|| panic!("a code: {:?}", answer.location));
    let (status, tokens) = stack.exchange_code(&app, &signed_in, &verifier).await;
    assert_eq!(status, 200, "{tokens}");

    // The code is spent; the next sign-in asks for no code (the address is proved).
    let again = post(&stack, &browser, &check, "/oauth2/verify", &[("code", &code)]).await;
    assert_eq!(again.status, 410, "{}", again.body);
    stack.user_tokens(&app, "grace@example.com", "sign me up 42", &[]).await;
    assert_eq!(sink.messages().len(), 1, "one email in all");

    // Post-authentication ran once the code was typed, knowing the user was new; then not.
    let runs = stack.runs().await;
    let mut logs: Vec<&str> = runs.iter().filter_map(|run| run["logs"][0]["message"].as_str()).collect();
    logs.sort();
    assert_eq!(logs, ["new user: false", "new user: true"], "{runs:?}");
}

const POST_AUTH: &str = r#"import { WorkflowSettings, WorkflowTrigger } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = { id: "afterSignIn", trigger: WorkflowTrigger.PostAuthentication };
export default async function after(event: any) {
  console.log(`new user: ${event.context.auth.isNewUserRecordCreated}`);
}
"#;

#[tokio::test]
async fn an_unverified_user_gets_a_code_at_first_sign_in_and_five_wrong_codes_spend_it() {
    let (stack, sink, app) = stack_with_mail().await;
    stack.user_with_password("ada@example.com", "Ada", "Lovelace", "correct horse 1").await;
    let browser = Browser::default();
    let (answer, _) = stack.sign_in(&browser, &app, "ada@example.com", "correct horse 1", &[]).await;
    assert_eq!(answer.status, 200, "a code page, not a redirect: {:?}", answer.location);
    assert!(answer.body.contains("Check your email"), "{}", answer.body);
    let code = sink.nth_to("ada@example.com", 1).await.code(6).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let mut page = answer;
    for left in (0..5).rev() {
        page = post(&stack, &browser, &page, "/oauth2/verify", &[("code", wrong)]).await;
        if left > 0 {
            assert!(page.body.contains(&format!("{left} tries left")), "{}", page.body);
        }
    }
    let answer = post(&stack, &browser, &page, "/oauth2/verify", &[("code", &code)]).await;
    assert_eq!(answer.status, 410, "spent after five wrong codes: {}", answer.body);
    assert!(answer.body.contains("This code has expired"), "{}", answer.body);
}

const PASSWORD_RULES: &str = r#"import { WorkflowSettings, WorkflowTrigger, invalidateFormField } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {
  id: "passwordRules", trigger: WorkflowTrigger.NewPasswordProvided, bindings: { "kinde.widget": {} } };
export default async function rules(event: any) {
  const auth = event.context.auth;
  console.log(`${auth.newPasswordReason} for ${event.context.user.email}: ${auth.firstPassword}`);
  if (!/[0-9]/.test(auth.firstPassword)) invalidateFormField("p_first_password", "Use at least one digit.");
}
"#;

#[tokio::test]
async fn a_forgotten_password_is_reset_with_the_emailed_code() {
    let (stack, sink, app) = stack_with_mail().await;
    stack.user_with_password("ada@example.com", "Ada", "Lovelace", "correct horse 1").await;
    let (status, body) =
        stack.deploy(&[("kindeSrc/environment/workflows/passwordRules/Workflow.ts", PASSWORD_RULES)]).await;
    assert_eq!(status, 200, "{body}");
    let browser = Browser::default();
    let (verifier, challenge) = pkce();
    let params = authorize_params(&challenge);
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let login = browser.get(&stack.authorize_url(&app, &params)).await;
    assert!(login.body.contains("Forgot your password?"), "{}", login.body);
    let query = stack.authorize_url(&app, &params).split_once('?').unwrap().1.to_owned();
    let forgot = browser.get(&stack.url(&format!("/oauth2/reset?{query}"))).await;
    assert_eq!(forgot.status, 200, "{}", forgot.body);

    // An email without an account: the same page, and no email.
    let page = post(&stack, &browser, &forgot, "/oauth2/reset", &[("email", "nobody@example.com")]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Choose a new password"), "{}", page.body);
    let page = post(&stack, &browser, &forgot, "/oauth2/reset", &[("email", "ada@example.com")]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let mail = sink.nth_to("ada@example.com", 1).await;
    assert_eq!(sink.messages().len(), 1, "nothing was sent to nobody@example.com");
    let code = mail.code(6).unwrap();

    // The workflow refuses a password without a digit; the same code then works with a new ticket.
    let fields = [("code", code.as_str()), ("password", "no digits here"), ("password_confirmation", "no digits here")];
    let refused = post(&stack, &browser, &page, "/oauth2/reset/confirm", &fields).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("Use at least one digit."), "{}", refused.body);
    let fields = [("code", code.as_str()), ("password", "new horse 2"), ("password_confirmation", "new horse 2")];
    let answer = post(&stack, &browser, &refused, "/oauth2/reset/confirm", &fields).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let signed_in = answer.param("code").unwrap_or_else(|| panic!("a code: {:?}", answer.location));
    assert_eq!(stack.exchange_code(&app, &signed_in, &verifier).await.0, 200);

    // The old password no longer works, the new one does; the runs hold no password.
    let (old, _) = stack.sign_in(&Browser::default(), &app, "ada@example.com", "correct horse 1", &[]).await;
    assert_eq!(old.status, 401, "{}", old.body);
    stack.user_tokens(&app, "ada@example.com", "new horse 2", &[]).await;
    let runs = stack.runs().await;
    let text = serde_json::to_string(&runs).unwrap();
    assert!(text.contains("reset for ada@example.com: [redacted]"), "{text}");
    assert!(!text.contains("new horse 2") && !text.contains("no digits here"), "{text}");
}

#[tokio::test]
async fn without_smtp_there_is_no_reset_and_sign_ups_are_unverified() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    let login = Browser::default().get(&stack.authorize_url(&app, &[])).await;
    assert!(!login.body.contains("Forgot your password?"), "{}", login.body);
    let query = stack.authorize_url(&app, &[]).split_once('?').unwrap().1.to_owned();
    let forgot = Browser::default().get(&stack.url(&format!("/oauth2/reset?{query}"))).await;
    assert_eq!(forgot.status, 404, "{}", forgot.body);
    assert!(forgot.body.contains("sends no email"), "{}", forgot.body);
}
