//! Deploying workflows: invalid files are rejected with file and line, and nothing is stored.

use claimflow_e2e::{m2m_workflow, Stack};
use serde_json::json;

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

#[tokio::test]
async fn rollback_makes_an_earlier_version_live_and_delete_stops_the_workflow() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let path = "kindeSrc/environment/workflows/v/Workflow.ts";
    for version in [1, 2] {
        let workflow = m2m_workflow(
            "v",
            "",
            r#""kinde.m2mToken": {}"#,
            &format!("  kinde.m2mToken.setCustomClaim(\"version\", {version});"),
        );
        assert_eq!(stack.deploy(&[(path, &workflow)]).await.0, 200);
    }
    let version_claim = || async {
        let response = stack.m2m_token(&client_id, &client_secret, "acme").await.unwrap();
        stack.verify(response["access_token"].as_str().unwrap(), "acme").await.unwrap().get("version").cloned()
    };
    assert_eq!(version_claim().await, Some(json!(2)));
    let (status, body) =
        stack.management(reqwest::Method::POST, "workflows/v/rollback", Some(json!({ "version": 1 }))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(version_claim().await, Some(json!(1)));
    let (status, _) =
        stack.management(reqwest::Method::POST, "workflows/v/rollback", Some(json!({ "version": 9 }))).await;
    assert_eq!(status, 404);

    let (status, body) = stack.management(reqwest::Method::DELETE, "workflows/v", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["versions_deleted"], 2);
    assert_eq!(version_claim().await, None, "a deleted workflow no longer runs");
    assert_eq!(stack.management(reqwest::Method::DELETE, "workflows/v", None).await.0, 404);
}

#[tokio::test]
async fn runs_are_filtered_paginated_and_shown_one_by_one() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = m2m_workflow("r", "", r#""kinde.m2mToken": {}"#, r#"  console.log("run");"#);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/r/Workflow.ts", &workflow)]).await.0, 200);
    for _ in 0..5 {
        stack.m2m_token(&client_id, &client_secret, "acme").await.unwrap();
    }
    stack.records_written().await;
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(token) => format!("workflows/runs?page_size=2&next_token={token}"),
            None => "workflows/runs?page_size=2".to_owned(),
        };
        let (status, page) = stack.management(reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{page}");
        let runs = page["runs"].as_array().unwrap();
        assert!(runs.len() <= 2);
        seen.extend(runs.iter().map(|run| run["id"].as_str().unwrap().to_owned()));
        match page["next_token"].as_str() {
            Some(token) => next = Some(token.to_owned()),
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (5, 5), "every run once across pages");

    let (_, failed) = stack.management(reqwest::Method::GET, "workflows/runs?status=failed", None).await;
    assert_eq!(failed["runs"].as_array().unwrap().len(), 0);
    let (_, later) = stack.management(reqwest::Method::GET, "workflows/runs?since=2999-01-01T00:00:00Z", None).await;
    assert_eq!(later["runs"].as_array().unwrap().len(), 0);
    let (status, body) = stack.management(reqwest::Method::GET, "workflows/runs?status=weird", None).await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("status"));
    let (status, _) = stack.management(reqwest::Method::GET, "workflows/runs?since=yesterday", None).await;
    assert_eq!(status, 400);

    let (status, one) = stack.management(reqwest::Method::GET, &format!("workflows/runs/{}", seen[0]), None).await;
    assert_eq!(status, 200);
    assert_eq!(one["run"]["logs"][0]["message"], "run");
    assert_eq!(stack.management(reqwest::Method::GET, "workflows/runs/nope", None).await.0, 404);
}

/// The message of a refused deploy's first error.
async fn refused(stack: &Stack, source: &str) -> String {
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/x/Workflow.ts", source)]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], "INVALID_WORKFLOW", "{body}");
    body["errors"][0]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn bundled_workflows_with_computed_settings_deploy_and_run() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    // What esbuild makes of a workflow: the enum bundled in, the trigger read from it, the
    // settings built by code, and the exports in a list.
    let bundled = r#"var m = ((o) => (o.M2MTokenGeneration = "m2m:token_generation", o))({});
var base = { id: "bundled" };
var workflowSettings = { ...base, trigger: m.M2MTokenGeneration, bindings: { ["kinde." + "m2mToken"]: {} } };
async function handler(event) {
  kinde.m2mToken.setCustomClaim("bundled", true);
}
export { handler as default, workflowSettings };
"#;
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/bundled/Workflow.js", bundled)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deployments"][0]["workflow_id"], "bundled");
    let token = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("a token");
    let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["bundled"], true, "{claims}");
}

#[tokio::test]
async fn code_that_can_never_run_is_refused_at_deploy_where_it_is_wrong() {
    let stack = Stack::start().await;
    // The legacy default export, which Kinde refuses at sync.
    let legacy = m2m_workflow("x", "", r#""kinde.m2mToken": {}"#, "")
        .replace("export default async function handle", "async function handle")
        + "export default { handle };\n";
    let message = refused(&stack, &legacy).await;
    let line = legacy.lines().count();
    assert!(
        message.starts_with(&format!(
            "kindeSrc/environment/workflows/x/Workflow.ts:{line}:1: No default function exported"
        )),
        "{message}"
    );

    // A named import the package does not export.
    // (Used: TypeScript drops an import nothing uses.)
    let missing =
        m2m_workflow("x", "", "", "  noSuchHelper();").replace("m2mTokenClaims }", "m2mTokenClaims, noSuchHelper }");
    let message = refused(&stack, &missing).await;
    assert!(message.starts_with("kindeSrc/environment/workflows/x/Workflow.ts:1:"), "{message}");
    assert!(message.contains("does not provide an export named 'noSuchHelper'"), "{message}");

    // A binding called but not declared.
    let undeclared = m2m_workflow("x", "", "", "  kinde.m2mToken.setCustomClaim(\"a\", 1);");
    let message = refused(&stack, &undeclared).await;
    let line = undeclared.lines().position(|line| line.contains("setCustomClaim")).unwrap() + 1;
    assert!(
        message.starts_with(&format!("kindeSrc/environment/workflows/x/Workflow.ts:{line}:3: kinde.m2mToken needs")),
        "{message}"
    );

    // A top level that throws, and one that never ends.
    let throws = format!("{}\nthrow new Error(\"not at deploy\");\n", m2m_workflow("x", "", "", ""));
    let message = refused(&stack, &throws).await;
    let line = throws.lines().count();
    assert!(message.starts_with(&format!("kindeSrc/environment/workflows/x/Workflow.ts:{line}:")), "{message}");
    assert!(message.contains("not at deploy"), "{message}");
    let spins = format!("{}\nwhile (true) {{}}\n", m2m_workflow("x", "", "", ""));
    let message = refused(&stack, &spins).await;
    assert!(message.contains("did not finish within 1s"), "{message}");

    // A setting's error points at its value, not at the settings object.
    let stopx = m2m_workflow("x", "failurePolicy: {\n    action: \"stopx\",\n  },", "", "");
    let message = refused(&stack, &stopx).await;
    assert!(message.starts_with("kindeSrc/environment/workflows/x/Workflow.ts:7:13:"), "{message}");

    let (_, list) = stack.management(reqwest::Method::GET, "workflows", None).await;
    assert_eq!(list["deployments"].as_array().unwrap().len(), 0, "nothing may be stored: {list}");
}

#[tokio::test]
async fn deploy_without_a_worker_is_a_clear_503() {
    let stack =
        claimflow_e2e::Stack::start_with(claimflow_e2e::StackOptions { worker: false, ..Default::default() }).await;
    let workflow = m2m_workflow("x", "", r#""kinde.m2mToken": {}"#, "");
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/x/Workflow.ts", &workflow)]).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["errors"][0]["code"], "WORKER_UNAVAILABLE", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("start one"), "{body}");
}

#[tokio::test]
async fn the_event_is_made_of_ordinary_objects() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let body = r#"  kinde.m2mToken.setCustomClaim("own", event.hasOwnProperty("context"));
  kinde.m2mToken.setCustomClaim("nested", Object.prototype.hasOwnProperty.call(event.request, "auth") && event.context.application.hasOwnProperty("clientId"));
  kinde.m2mToken.setCustomClaim("ordinary", Object.getPrototypeOf(event.context) === Object.prototype && Array.isArray(event.request.auth.audience));
  kinde.m2mToken.setCustomClaim("text", `${event.context}` + String(event.context.workflow.trigger));"#;
    let workflow = m2m_workflow("proto", "", r#""kinde.m2mToken": {}"#, body);
    assert_eq!(stack.deploy(&[("kindeSrc/environment/workflows/proto/Workflow.ts", &workflow)]).await.0, 200);
    let token = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("a token");
    let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(
        (claims["own"].clone(), claims["nested"].clone(), claims["ordinary"].clone()),
        (json!(true), json!(true), json!(true)),
        "{claims}"
    );
    assert_eq!(claims["text"], "[object Object]m2m:token_generation", "{claims}");
}
