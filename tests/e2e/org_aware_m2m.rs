//! The org-aware M2M tutorial end to end: a workflow reads the application's properties and its
//! organization through `createKindeAPI` (claimflow's own management API) and stamps the token.

use std::process::Command;

use claimflow_e2e::{npm_bin, Stack};
use reqwest::Method;
use serde_json::json;

const WORKFLOW: &str = r#"import {
  createKindeAPI,
  m2mTokenClaims,
  onM2MTokenGeneratedEvent,
  WorkflowSettings,
  WorkflowTrigger,
} from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {
  id: "orgAwareM2M",
  name: "Org-aware M2M tokens",
  trigger: WorkflowTrigger.M2MTokenGeneration,
  failurePolicy: { action: "stop" },
  bindings: {
    "kinde.m2mToken": {},
    "kinde.fetch": {},
    "kinde.env": {},
    url: {},
  },
};

export default async function handleM2M(event: onM2MTokenGeneratedEvent) {
  const kindeAPI = await createKindeAPI(event);
  const clientId = event.context.application.clientId;
  const { data: properties } = await kindeAPI.get({ endpoint: `applications/${clientId}/properties` });
  const orgCode: string = properties.appProperties.find((p: { key: string }) => p.key === "org_code")?.value;
  const { data: org } = await kindeAPI.get({ endpoint: `organization?code=${orgCode}` });
  console.log("organization", org.name, "secret", kinde.env.get("KINDE_WF_M2M_CLIENT_SECRET").value);
  const claims = m2mTokenClaims<{ applicationId: string; orgName: string; orgCode: string }>();
  claims.applicationId = clientId;
  claims.orgCode = orgCode;
  claims.orgName = org.name;
}
"#;

/// Everything the tutorial sets up before deploying: `(client_id, client_secret, org_code)` of
/// the M2M application that asks for tokens.
async fn tutorial_setup(stack: &Stack) -> (String, String, String, String) {
    let (status, org) = stack.management(Method::POST, "organization", Some(json!({ "name": "Acme Inc" }))).await;
    assert_eq!(status, 200, "{org}");
    let org_code = org["organization"]["code"].as_str().unwrap().to_owned();
    assert!(org_code.starts_with("org_"));

    let (status, body) = stack
        .management(
            Method::POST,
            "properties",
            Some(json!({ "name": "Organization code", "key": "org_code", "type": "single_line_text", "context": "app", "is_private": false })),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let (status, body) = stack
        .management(
            Method::PUT,
            &format!("applications/{client_id}/properties/org_code"),
            Some(json!({ "value": org_code })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = stack
        .management(
            Method::PATCH,
            &format!("applications/{client_id}/tokens"),
            Some(json!({ "access_token_lifetime": 3600, "token_properties": ["org_code"] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (reader_id, reader_secret) = stack
        .management_client_with_scopes(&["read:application_properties", "read:applications", "read:organizations"])
        .await;
    for (key, value, is_secret) in
        [("KINDE_WF_M2M_CLIENT_ID", &reader_id, false), ("KINDE_WF_M2M_CLIENT_SECRET", &reader_secret, true)]
    {
        let (status, body) = stack
            .management(
                Method::POST,
                "environment_variables",
                Some(json!({ "key": key, "value": value, "is_secret": is_secret })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    (client_id, client_secret, org_code, reader_secret)
}

async fn assert_org_aware_token(stack: &Stack, client_id: &str, client_secret: &str, org_code: &str) {
    let response = stack.m2m_token(client_id, client_secret, "acme").await.unwrap_or_else(|(status, body)| {
        panic!("token refused ({status}): {body}");
    });
    let claims = stack.verify(response["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["applicationId"], client_id);
    assert_eq!(claims["orgCode"], org_code);
    assert_eq!(claims["orgName"], "Acme Inc");
    assert_eq!(claims["application_properties"], json!({ "org_code": { "v": org_code } }));
    assert_eq!(claims["aud"], json!(["acme"]));
    assert_eq!(claims["gty"], json!(["client_credentials"]));
}

#[tokio::test]
async fn org_aware_m2m_tutorial_stamps_the_token_with_the_applications_organization() {
    let stack = Stack::start().await;
    let (client_id, client_secret, org_code, reader_secret) = tutorial_setup(&stack).await;
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/orgAware/Workflow.ts", WORKFLOW)]).await;
    assert_eq!(status, 200, "{body}");

    assert_org_aware_token(&stack, &client_id, &client_secret, &org_code).await;
    // A second token uses the workflow's cached management token (kinde.cache.jwtToken).
    assert_org_aware_token(&stack, &client_id, &client_secret, &org_code).await;

    let runs = stack.runs().await;
    assert!(runs.iter().all(|run| run["status"] == "ok"), "{runs:?}");

    // As in Kinde's official examples: createKindeAPI with neither kinde.fetch nor url declared.
    let undeclared = WORKFLOW.replace("    \"kinde.fetch\": {},\n", "").replace("    url: {},\n", "");
    assert!(!undeclared.contains("kinde.fetch\": {}") && !undeclared.contains("url: {}"));
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/orgAware/Workflow.ts", &undeclared)]).await;
    assert_eq!(status, 200, "{body}");
    assert_org_aware_token(&stack, &client_id, &client_secret, &org_code).await;
    let logs = runs[0]["logs"].to_string();
    assert!(logs.contains("organization Acme Inc secret [redacted]"), "{logs}");
    assert!(!logs.contains(&reader_secret), "a secret reached the run log");

    // The secret is write-only through the management API.
    let (_, listed) = stack.management(Method::GET, "environment_variables", None).await;
    let secret = listed["environment_variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "KINDE_WF_M2M_CLIENT_SECRET")
        .unwrap();
    assert_eq!(secret["value"], serde_json::Value::Null);
    assert!(!listed.to_string().contains(&reader_secret));
}

#[tokio::test]
async fn the_real_kinde_infrastructure_package_bundled_into_a_workflow_gives_the_same_token() {
    let stack = Stack::start().await;
    let (client_id, client_secret, org_code, _) = tutorial_setup(&stack).await;

    // Bundle the workflow with the npm package itself, as a Kinde user's build would.
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("Workflow.ts");
    // NOTE: the bundle's trigger is `WorkflowTrigger.M2MTokenGeneration` of the bundled enum:
    // deploy evaluates the module to read it. Kinde's runtime provides kinde.fetch and
    // URLSearchParams to createKindeAPI undeclared, so this declares neither.
    std::fs::write(&source, WORKFLOW.replace("    \"kinde.fetch\": {},\n", "").replace("    url: {},\n", "")).unwrap();
    let output = Command::new(npm_bin("esbuild"))
        .arg(&source)
        .args(["--bundle", "--format=esm", "--platform=neutral", "--main-fields=module,main", "--log-level=error"])
        // NOTE: the source lives in a temporary directory; NODE_PATH points esbuild's module
        // resolution at the test dependencies.
        .env("NODE_PATH", concat!(env!("CARGO_MANIFEST_DIR"), "/npm/node_modules"))
        .output()
        .expect("esbuild runs");
    assert!(output.status.success(), "esbuild: {}", String::from_utf8_lossy(&output.stderr));
    let bundled = String::from_utf8(output.stdout).unwrap();
    assert!(bundled.contains("getM2MToken: Failed to obtain token"), "the package's own code is in the bundle");
    assert!(!bundled.contains("from \"@kinde/infrastructure\""), "the import was bundled away");

    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/orgAware/Workflow.js", &bundled)]).await;
    assert_eq!(status, 200, "{body}");
    assert_org_aware_token(&stack, &client_id, &client_secret, &org_code).await;
}
