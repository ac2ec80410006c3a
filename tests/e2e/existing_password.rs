//! `user:existing_password_provided` and drip-feed migration: a user the legacy system knows
//! signs in for the first time with the legacy password; the workflow checks it there (through
//! `secureFetch`), creates the user and sets the password through the management API, and the
//! sign-in completes. A wrong password is refused with the workflow's message; the password
//! never appears in a run record.

use std::sync::{Arc, Mutex};

use axum::{extract::State, http::StatusCode, routing::post, Json, Router};
use claimflow_e2e::{Browser, Stack, StackOptions};
use reqwest::Method;
use serde_json::{json, Value};

const LEGACY_EMAIL: &str = "lee@legacy.example";
const LEGACY_PASSWORD: &str = "legacy secret 77";

const DRIP_FEED: &str = r#"import {
  WorkflowSettings, WorkflowTrigger, createKindeAPI, getEnvironmentVariable, invalidateFormField, secureFetch,
  onExistingPasswordProvidedEvent,
} from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {
  id: "dripFeed",
  trigger: WorkflowTrigger.ExistingPasswordProvided,
  failurePolicy: { action: "stop" },
  bindings: { "kinde.env": {}, "kinde.secureFetch": {}, "kinde.widget": {}, "url": {} },
};

export default async function dripFeed(event: onExistingPasswordProvidedEvent) {
  const auth: any = event.context.auth;
  console.log(`sign-in of ${auth.providedEmail} with ${auth.password}, known: ${auth.hasUserRecordInKinde}`);
  if (auth.hasUserRecordInKinde) return;
  const legacy = getEnvironmentVariable("LEGACY_URL")?.value;
  const { data } = await secureFetch(`${legacy}/check`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: { email: auth.providedEmail, password: auth.password },
  });
  if (!data.ok) {
    invalidateFormField("p_password", "That is not the password of your old account.");
    return;
  }
  const api = await createKindeAPI(event);
  const { data: user } = await api.post({
    endpoint: "user",
    params: {
      profile: { given_name: data.given_name, family_name: data.family_name },
      identities: [{ type: "email", details: { email: auth.providedEmail } }],
    },
  });
  await api.put({ endpoint: `users/${user.id}/password`, params: { password: auth.password } });
}
"#;

/// The legacy system: knows one user; answers a `secureFetch` body (AES-256-GCM with the
/// environment's key) saying whether the password is right. Counts the checks.
async fn legacy_system(key: [u8; 32]) -> (String, Arc<Mutex<u32>>) {
    async fn check(
        State((key, checks)): State<([u8; 32], Arc<Mutex<u32>>)>,
        body: String,
    ) -> (StatusCode, Json<Value>) {
        use aes_gcm::aead::{Aead, KeyInit};
        use base64::Engine;
        *checks.lock().unwrap() += 1;
        let sealed = base64::engine::general_purpose::STANDARD.decode(body.trim()).expect("a base64 body");
        let (nonce, ciphertext) = sealed.split_at(12);
        let cipher = aes_gcm::Aes256Gcm::new(&key.into());
        let plain = cipher.decrypt(nonce.into(), ciphertext).expect("sealed with the environment's key");
        let request: Value = serde_json::from_slice(&plain).expect("a JSON body");
        if request["email"] == LEGACY_EMAIL && request["password"] == LEGACY_PASSWORD {
            (StatusCode::OK, Json(json!({ "ok": true, "given_name": "Lee", "family_name": "Gacy" })))
        } else {
            (StatusCode::OK, Json(json!({ "ok": false })))
        }
    }
    let checks = Arc::new(Mutex::new(0));
    let app = Router::new().route("/check", post(check)).with_state((key, checks.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, checks)
}

async fn stack_with_drip_feed() -> (Stack, claimflow_e2e::WebApp, Arc<Mutex<u32>>) {
    let stack = Stack::start_with(StackOptions {
        fetch_allow: claimflow_workflow_runtime::AllowList::parse("127.0.0.1").unwrap(),
        ..StackOptions::default()
    })
    .await;
    let (legacy, checks) = legacy_system(stack.secure_fetch_key()).await;
    let (client_id, client_secret) = stack.management_client_with_scopes(&["create:users", "update:users"]).await;
    for (key, value, is_secret) in [
        ("KINDE_WF_M2M_CLIENT_ID", client_id.as_str(), false),
        ("KINDE_WF_M2M_CLIENT_SECRET", client_secret.as_str(), true),
        ("LEGACY_URL", legacy.as_str(), false),
    ] {
        let body = json!({ "key": key, "value": value, "is_secret": is_secret });
        assert_eq!(stack.management(Method::POST, "environment_variables", Some(body)).await.0, 200);
    }
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/dripFeed/Workflow.ts", DRIP_FEED)]).await;
    assert_eq!(status, 200, "deploy: {body}");
    let app = stack.web_app("reg").await;
    (stack, app, checks)
}

#[tokio::test]
async fn a_legacy_user_is_migrated_on_first_sign_in_and_signs_in_with_claimflow_after() {
    let (stack, app, checks) = stack_with_drip_feed().await;
    let (status, users) = stack.management(Method::GET, "users", None).await;
    assert_eq!(status, 200, "{users}");
    assert!(!users.to_string().contains(LEGACY_EMAIL), "not in claimflow yet: {users}");

    // First sign-in: the legacy system is asked, the user made, the sign-in completes.
    let tokens = stack.user_tokens(&app, LEGACY_EMAIL, LEGACY_PASSWORD, &[]).await;
    let id = stack.verify_user_token(tokens["id_token"].as_str().unwrap()).await;
    assert_eq!((id["email"].as_str(), id["given_name"].as_str()), (Some(LEGACY_EMAIL), Some("Lee")), "{id}");
    assert_eq!(*checks.lock().unwrap(), 1);

    // Second sign-in: claimflow knows the user and the password; the legacy system is not asked.
    stack.user_tokens(&app, LEGACY_EMAIL, LEGACY_PASSWORD, &[]).await;
    assert_eq!(*checks.lock().unwrap(), 1, "the workflow returned early for a known user");

    // The runs are recorded, and the password is not in them.
    let runs: Vec<Value> =
        stack.runs().await.into_iter().filter(|run| run["trigger"] == "user:existing_password_provided").collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let text = serde_json::to_string(&runs).unwrap();
    assert!(!text.contains(LEGACY_PASSWORD), "a run record holds the password: {text}");
    assert!(text.contains(&format!("sign-in of {LEGACY_EMAIL} with [redacted], known: false")), "{text}");
    assert!(text.contains("known: true"), "{text}");
}

#[tokio::test]
async fn a_wrong_legacy_password_is_refused_with_the_workflows_message_and_makes_no_user() {
    let (stack, app, checks) = stack_with_drip_feed().await;
    let browser = Browser::default();
    let (answer, _) = stack.sign_in(&browser, &app, LEGACY_EMAIL, "a guess", &[]).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(answer.body.contains("That is not the password of your old account."), "{}", answer.body);
    assert!(answer.location.is_none() && !browser.has_cookie("claimflow_session"));
    assert_eq!(*checks.lock().unwrap(), 1);
    let (_, users) = stack.management(Method::GET, "users", None).await;
    assert!(!users.to_string().contains(LEGACY_EMAIL), "no user was made: {users}");
    let runs = stack.runs().await;
    assert!(!serde_json::to_string(&runs).unwrap().contains("a guess"), "{runs:?}");
    // An email neither system knows: refused the same way.
    let (answer, _) = stack.sign_in(&browser, &app, "nobody@example.com", "whatever 1", &[]).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
}

#[tokio::test]
async fn a_failing_password_workflow_ends_the_sign_in_with_a_clear_page() {
    let (stack, app, _) = stack_with_drip_feed().await;
    // The legacy system is gone: LEGACY_URL points nowhere.
    let (_, variables) = stack.management(Method::GET, "environment_variables", None).await;
    let legacy =
        variables["environment_variables"].as_array().unwrap().iter().find(|v| v["key"] == "LEGACY_URL").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let body = json!({ "value": "http://127.0.0.1:9" });
    assert_eq!(stack.management(Method::PATCH, &format!("environment_variables/{legacy}"), Some(body)).await.0, 200);
    let browser = Browser::default();
    let (answer, _) = stack.sign_in(&browser, &app, LEGACY_EMAIL, LEGACY_PASSWORD, &[]).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.body.contains("Sign-in could not be completed"), "{}", answer.body);
    assert!(!answer.body.contains(LEGACY_PASSWORD));
    let runs = stack.runs().await;
    assert_eq!(runs[0]["status"], "failed", "{runs:?}");
    assert!(!serde_json::to_string(&runs).unwrap().contains(LEGACY_PASSWORD), "{runs:?}");
}
