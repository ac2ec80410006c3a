//! Deploying workflows: invalid files are rejected with file and line, and nothing is stored.

use claimflow_e2e::{m2m_workflow, Stack};

#[tokio::test]
async fn syntax_error_is_rejected_naming_file_and_line() {
    let stack = Stack::start().await;
    let broken = "export const workflowSettings = {\n  id: \"x\",\n  trigger: \"m2m:token_generation\"\n  bindings: {},\n};\nexport default async function () {}\n";
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/x/Workflow.ts", broken)]).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["code"], "INVALID_WORKFLOW");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("kindeSrc/environment/workflows/x/Workflow.ts:4:"), "{message}");
}

#[tokio::test]
async fn unknown_trigger_and_missing_id_are_rejected() {
    let stack = Stack::start().await;
    let bad_trigger = m2m_workflow("x", "", "", "").replace("WorkflowTrigger.M2MTokenGeneration", "\"m2m:sometimes\"");
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/x/Workflow.ts", &bad_trigger)]).await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("m2m:sometimes"), "{body}");

    let no_id = m2m_workflow("x", "", "", "").replace("id: \"x\",", "");
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/x/Workflow.ts", &no_id)]).await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("workflowSettings.id is missing"), "{body}");
}

#[tokio::test]
async fn one_bad_file_rejects_the_whole_bundle() {
    let stack = Stack::start().await;
    let good = m2m_workflow("good", "", r#""kinde.m2mToken": {}"#, "");
    let bad = "export default function (";
    let (status, _) = stack
        .deploy(&[
            ("kindeSrc/environment/workflows/good/Workflow.ts", &good),
            ("kindeSrc/environment/workflows/bad/Workflow.ts", bad),
        ])
        .await;
    assert_eq!(status, 400);
    let (_, list) = stack.management(reqwest::Method::GET, "workflows", None).await;
    assert_eq!(list["deployments"].as_array().unwrap().len(), 0, "nothing may be stored: {list}");
}

#[tokio::test]
async fn redeploying_creates_a_new_live_version() {
    let stack = Stack::start().await;
    let first = m2m_workflow("v", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("version", 1);"#);
    let second = m2m_workflow("v", "", r#""kinde.m2mToken": {}"#, r#"  kinde.m2mToken.setCustomClaim("version", 2);"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/v/Workflow.ts", &first)]).await.0, 200);
    let (_, body) = stack.deploy(&[("kindeSrc/environment/workflows/v/Workflow.ts", &second)]).await;
    assert_eq!(body["deployments"][0]["version"], 2);
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let response = stack.m2m_token(&client_id, &client_secret, "acme").await.unwrap();
    let claims = stack.verify(response["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["version"], 2);
    let (_, list) = stack.management(reqwest::Method::GET, "workflows", None).await;
    let live: Vec<i64> = list["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["live"] == true)
        .map(|d| d["version"].as_i64().unwrap())
        .collect();
    assert_eq!(live, [2]);
}
