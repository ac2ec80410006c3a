//! Usernames: an optional second identity. With `CLAIMFLOW_USERNAMES` the sign-up page asks for
//! one and `user:new_username_provided` can refuse it at its field; the management API gives one
//! to any user; either way the user signs in with it as with their email.

use auth_service::config::Usernames;
use claimflow_e2e::{pkce, Answer, Browser, Stack, StackOptions, WebApp};
use reqwest::Method;
use serde_json::{json, Value};

const PASSWORD: &str = "sign me up 42";

const USERNAME_RULES: &str = r#"import { WorkflowSettings, WorkflowTrigger, invalidateFormField } from "@kinde/infrastructure";
export const workflowSettings: WorkflowSettings = {
  id: "usernameRules", trigger: WorkflowTrigger.NewUsernameProvided, failurePolicy: { action: "stop" },
  bindings: { "kinde.widget": {} } };
export default async function rules(event: any) {
  console.log(`username ${event.context.auth.suppliedUsername} on ${event.context.workflow.trigger}`);
  if (["root", "admin"].includes(event.context.auth.suppliedUsername)) {
    invalidateFormField("p_username", "This username is reserved.");
  }
}
"#;

async fn sign_up(stack: &Stack, browser: &Browser, app: &WebApp, email: &str, username: &str) -> (Answer, String) {
    let (verifier, challenge) = pkce();
    let params = [
        ("scope", "openid profile email"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("prompt", "create"),
    ];
    let page = browser.get(&stack.authorize_url(app, &params)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Username (optional)"), "{}", page.body);
    let mut form = page.hidden_fields();
    for (name, value) in [
        ("given_name", "Grace"),
        ("email", email),
        ("username", username),
        ("password", PASSWORD),
        ("password_confirmation", PASSWORD),
    ] {
        form.push((name.into(), value.into()));
    }
    (browser.post(&stack.url("/oauth2/signup"), &form).await, verifier)
}

async fn users(stack: &Stack) -> Vec<Value> {
    let (status, users) = stack.management(Method::GET, "users", None).await;
    assert_eq!(status, 200, "{users}");
    users["users"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_username_chosen_at_sign_up_passes_its_workflow_and_signs_in_like_an_email() {
    let stack = Stack::start_with(StackOptions { usernames: Usernames::Optional, ..StackOptions::default() }).await;
    let app = stack.web_app("reg").await;
    let body = json!({ "allow_signup": true });
    assert_eq!(stack.management(Method::PATCH, &format!("applications/{}", app.client_id), Some(body)).await.0, 200);
    let (status, body) =
        stack.deploy(&[("kindeSrc/environment/workflows/usernameRules/Workflow.ts", USERNAME_RULES)]).await;
    assert_eq!(status, 200, "{body}");

    // Refused by the workflow, or by claimflow's rules: the message at the field, nobody made.
    let browser = Browser::default();
    let (answer, _) = sign_up(&stack, &browser, &app, "grace@example.com", "Root").await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("This username is reserved.") && answer.body.contains("username-error"));
    let (answer, _) = sign_up(&stack, &browser, &app, "grace@example.com", "grace hopper!").await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("A username has 3 to 64"), "{}", answer.body);
    assert!(users(&stack).await.is_empty());

    // Accepted: the account has the username, lowercase.
    let (answer, verifier) = sign_up(&stack, &browser, &app, "grace@example.com", "Grace_H").await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let code = answer.param("code").unwrap();
    assert_eq!(stack.exchange_code(&app, &code, &verifier).await.0, 200);
    let made = users(&stack).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["username"], "grace_h", "{made:?}");
    let grace = made[0]["id"].as_str().unwrap().to_owned();

    // The username (any case) signs in as the email does; the page says it may.
    let login = Browser::default().get(&stack.authorize_url(&app, &[])).await;
    assert!(login.body.contains("Email or username"), "{}", login.body);
    for login in ["grace_h", "GRACE_H", "grace@example.com"] {
        let tokens = stack.user_tokens(&app, login, PASSWORD, &[]).await;
        assert_eq!(stack.verify_user_token(tokens["access_token"].as_str().unwrap()).await["sub"], grace.as_str());
    }
    let (answer, _) = stack.sign_in(&Browser::default(), &app, "grace_x", PASSWORD, &[]).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(answer.body.contains("The email, username or password is incorrect."), "{}", answer.body);

    // A taken username is refused before any workflow runs; the runs saw the usernames typed.
    let (answer, _) = sign_up(&stack, &browser, &app, "other@example.com", "grace_h").await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert!(answer.body.contains("This username is taken"), "{}", answer.body);
    let logs: Vec<String> = stack
        .runs()
        .await
        .iter()
        .filter(|run| run["trigger"] == "user:new_username_provided")
        .map(|run| run["logs"][0]["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs.contains(&"username root on user:new_username_provided".to_owned()), "{logs:?}");
    assert!(logs.contains(&"username grace_h on user:new_username_provided".to_owned()), "{logs:?}");
}

#[tokio::test]
async fn the_management_api_gives_a_user_a_username_to_sign_in_with() {
    let stack = Stack::start().await;
    let app = stack.web_app("reg").await;
    let create = |username: &str, email: &str| {
        json!({
            "profile": { "given_name": "Ada" },
            "identities": [
                { "type": "email", "details": { "email": email } },
                { "type": "username", "details": { "username": username } },
            ],
        })
    };
    let (status, body) = stack.management(Method::POST, "user", Some(create("a", "ada@example.com"))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], "INVALID_USERNAME", "{body}");
    let (status, body) = stack.management(Method::POST, "user", Some(create("Ada.L", "ada@example.com"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identities"][1]["type"], "username", "{body}");
    let ada = body["id"].as_str().unwrap().to_owned();
    let (status, body) = stack.management(Method::POST, "user", Some(create("ada.l", "other@example.com"))).await;
    assert_eq!(status, 409, "a username belongs to one user: {body}");
    let password = json!({ "password": PASSWORD });
    assert_eq!(stack.management(Method::PUT, &format!("users/{ada}/password"), Some(password)).await.0, 200);

    let (_, user) = stack.management(Method::GET, &format!("user?id={ada}&expand=identities"), None).await;
    assert_eq!(user["username"], "ada.l", "{user}");
    assert_eq!(user["identities"][1], json!({ "type": "username", "identity": "ada.l" }), "{user}");
    // Sign-up does not ask for usernames here, yet a user who has one signs in with it.
    let login = Browser::default().get(&stack.authorize_url(&app, &[])).await;
    assert!(!login.body.contains("Email or username"), "{}", login.body);
    let tokens = stack.user_tokens(&app, "ada.l", PASSWORD, &[]).await;
    assert_eq!(stack.verify_user_token(tokens["access_token"].as_str().unwrap()).await["sub"], ada.as_str());
}
