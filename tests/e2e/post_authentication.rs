//! `user:post_authentication`: runs once the password is checked, before the session and the
//! code. It can deny the sign-in (`access_denied` and its reason at the redirect, no session) and
//! set the session's persistence; its event carries the authorization request's parameters.

use claimflow_e2e::{Browser, Stack};
use serde_json::Value;

const FILE: &str = "kindeSrc/environment/workflows/gate/Workflow.ts";

/// A post-authentication workflow that denies `blocked` (a user id), logs its event, and makes
/// the session of everyone else end with the browser. `extra` goes at the top of the handler.
fn gate(blocked: &str, failure: &str, extra: &str) -> String {
    format!(
        r#"import {{ WorkflowSettings, WorkflowTrigger, denyAccess, onPostAuthenticationEvent }} from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {{
  id: "gate",
  trigger: WorkflowTrigger.PostAuthentication,
  failurePolicy: {{ action: "{failure}" }},
  bindings: {{ "kinde.auth": {{}}, "kinde.ssoSession": {{}} }},
}};
export default async function gate(event: onPostAuthenticationEvent) {{
{extra}
  console.log(JSON.stringify({{ params: event.request.authUrlParams, auth: event.context.auth,
    user: event.context.user, trigger: event.context.workflow.trigger, client: event.context.application.clientId }}));
  if (event.context.user.id === "{blocked}") {{
    denyAccess("This account is suspended");
    return;
  }}
  kinde.ssoSession.setPolicy("non_persistent");
}}
"#
    )
}

async fn deploy(stack: &Stack, source: &str) {
    let (status, body) = stack.deploy(&[(FILE, source)]).await;
    assert_eq!(status, 200, "deploy: {body}");
}

#[tokio::test]
async fn a_post_authentication_workflow_denies_one_user_and_lets_the_other_in() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    let ada = stack.user_with_password("ada@example.com", "Ada", "Lovelace", "correct horse 1").await;
    let eve = stack.user_with_password("eve@example.com", "Eve", "E", "correct horse 2").await;
    deploy(&stack, &gate(&eve, "stop", "")).await;

    // Denied: the reason at the redirect, the state kept, no session.
    let browser = Browser::default();
    let (answer, _) =
        stack.sign_in(&browser, &app, "eve@example.com", "correct horse 2", &[("login_hint", "eve@example.com")]).await;
    assert_eq!(answer.status, 302, "{}", answer.body);
    assert!(answer.location.as_deref().unwrap().starts_with(&app.redirect_uri), "{:?}", answer.location);
    assert_eq!(answer.param("error").as_deref(), Some("access_denied"), "{:?}", answer.location);
    assert_eq!(answer.param("error_description").as_deref(), Some("This account is suspended"));
    assert_eq!(answer.param("state").as_deref(), Some("st-1"));
    assert!(answer.param("code").is_none());
    assert!(!browser.has_cookie("claimflow_session"), "a denied sign-in leaves no session");

    // Allowed: a code, tokens, and a session that ends with the browser (the workflow's policy).
    let browser = Browser::default();
    let (answer, verifier) =
        stack.sign_in(&browser, &app, "ada@example.com", "correct horse 1", &[("login_hint", "ada@example.com")]).await;
    let code = answer.param("code").unwrap_or_else(|| panic!("signed in: {:?} {}", answer.location, answer.body));
    let cookie = browser.set_cookie_header("claimflow_session").expect("a session cookie");
    assert!(!cookie.contains("Max-Age"), "a browser-session cookie: {cookie}");
    let (status, tokens) = stack.exchange_code(&app, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(stack.verify_user_token(tokens["access_token"].as_str().unwrap()).await["sub"], ada.as_str());

    // Both runs are recorded; the event had Kinde's fields.
    let runs: Vec<Value> =
        stack.runs().await.into_iter().filter(|run| run["trigger"] == "user:post_authentication").collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|run| run["status"] == "ok"), "{runs:?}");
    let logged = |run: &Value| -> Value { serde_json::from_str(run["logs"][0]["message"].as_str().unwrap()).unwrap() };
    let ada_run = runs.iter().map(logged).find(|event| event["user"]["id"] == ada.as_str()).expect("ada's run");
    assert_eq!(ada_run["trigger"], "user:post_authentication");
    assert_eq!(ada_run["params"]["state"], "st-1");
    assert_eq!(ada_run["params"]["loginHint"], "ada@example.com");
    assert_eq!(ada_run["params"]["clientId"], app.client_id.as_str());
    assert_eq!(ada_run["params"]["redirectUri"], app.redirect_uri.as_str());
    assert_eq!(ada_run["params"]["scope"], "openid profile email offline");
    assert_eq!(ada_run["auth"]["connectionId"], "conn_password");
    assert_eq!(ada_run["auth"]["isNewUserRecordCreated"], false);
    assert_eq!(ada_run["client"], app.client_id.as_str());
}

#[tokio::test]
async fn a_failing_post_authentication_workflow_stops_the_sign_in_or_is_passed_over() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    stack.user_with_password("ada@example.com", "Ada", "Lovelace", "correct horse 1").await;

    // stop: the sign-in ends with the workflow's failure at the redirect; no session, no code.
    deploy(&stack, &gate("nobody", "stop", "  throw new Error(\"the fraud service is down\");")).await;
    let browser = Browser::default();
    let (answer, _) = stack.sign_in(&browser, &app, "ada@example.com", "correct horse 1", &[]).await;
    assert_eq!(answer.param("error").as_deref(), Some("server_error"), "{:?}", answer.location);
    let description = answer.param("error_description").unwrap();
    assert!(description.contains("workflow \"gate\"") && description.contains("failed"), "{description}");
    assert!(answer.param("code").is_none() && !browser.has_cookie("claimflow_session"));
    let runs = stack.runs().await;
    assert_eq!(runs[0]["status"], "failed", "{runs:?}");
    assert!(runs[0]["error"].as_str().unwrap().contains("the fraud service is down"), "{runs:?}");

    // continue: the sign-in goes on as if there were no workflow.
    deploy(&stack, &gate("nobody", "continue", "  throw new Error(\"the fraud service is down\");")).await;
    let browser = Browser::default();
    let (answer, verifier) = stack.sign_in(&browser, &app, "ada@example.com", "correct horse 1", &[]).await;
    let code = answer.param("code").unwrap_or_else(|| panic!("signed in: {:?}", answer.location));
    assert_eq!(stack.exchange_code(&app, &code, &verifier).await.0, 200);
}

#[tokio::test]
async fn deploy_refuses_token_bindings_on_post_authentication_and_says_why_plan_triggers_are_refused() {
    let stack = Stack::start().await;
    let claims = r#"import { WorkflowSettings, WorkflowTrigger } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {
  id: "gate", trigger: WorkflowTrigger.PostAuthentication, bindings: { "kinde.accessToken": {} } };
export default async function gate(event: any) {
  kinde.accessToken.setCustomClaim("nope", true);
}
"#;
    let (status, body) = stack.deploy(&[(FILE, claims)]).await;
    assert_eq!(status, 400, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("kinde.accessToken is not offered on user:post_authentication"), "{message}");
    assert!(message.contains("user:tokens_generation"), "{message}");

    let plan = r#"export const workflowSettings = { id: "plans", trigger: "user:plan_selection" };
export default async function plans(event: any) {}
"#;
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/plans/Workflow.ts", plan)]).await;
    assert_eq!(status, 400, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("\"user:plan_selection\"") && message.contains("billing"), "{message}");
}
