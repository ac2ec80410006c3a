//! Workflows that import the project's own files (`../utils/getKindeAPI.ts`), as Kinde bundles
//! them: deployed together, linked at deploy, refused with file:line:col when an import cannot
//! be followed.

use claimflow_e2e::Stack;

/// As in Kinde's own example project, the helpers sit beside `kindeSrc/`.
const WORKFLOW_PATH: &str = "kindeSrc/environment/workflows/tenantWorkflow.ts";

/// Imports a helper from outside `kindeSrc/`, which imports another (spelled `.js`, as TypeScript's ESM
/// convention has it) and the package; one import is only a type and needs no file.
const WORKFLOW: &str = r#"import { WorkflowSettings, WorkflowTrigger, m2mTokenClaims } from "@kinde/infrastructure";
import { tenantClaims } from "../../../utils/tenant";
import { Tenant } from "../../../utils/types";

export const workflowSettings: WorkflowSettings = {
  id: "tenantFromHelpers",
  trigger: WorkflowTrigger.M2MTokenGeneration,
  bindings: { "kinde.m2mToken": {} },
};

export default async function handle(event: any): Promise<void> {
  const tenant: Tenant = tenantClaims(event.context.application.clientId);
  Object.assign(m2mTokenClaims(), tenant);
}
"#;

fn helper(prefix: &str) -> String {
    format!(
        r#"import {{ label }} from "./format.js";
import {{ version }} from "@kinde/infrastructure";

interface Tenant {{ tenant: string; }}

export function tenantClaims(clientId: string): Tenant & {{ package: string }} {{
  if (clientId === "") {{
    throw new Error("no client id");
  }}
  return {{ tenant: label("{prefix}", clientId), package: typeof version }};
}}
"#
    )
}

const FORMAT: &str = "export const label = (prefix: string, id: string): string => `${prefix}-${id.length}`;\n";

async fn deploy_project(stack: &Stack, prefix: &str) -> (u16, serde_json::Value) {
    let helper = helper(prefix);
    stack
        .deploy(&[
            (WORKFLOW_PATH, WORKFLOW),
            ("utils/tenant.ts", &helper),
            ("utils/format.ts", FORMAT),
            ("utils/types.d.ts", "export interface Tenant { tenant: string }\n"),
        ])
        .await
}

#[tokio::test]
async fn a_workflow_runs_with_the_project_files_it_imports_and_a_changed_helper_takes_effect() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let (status, body) = deploy_project(&stack, "org").await;
    assert_eq!(status, 200, "{body}");
    let deployments = body["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 1, "the helpers are modules, not workflows: {body}");
    assert_eq!(deployments[0]["source_path"], WORKFLOW_PATH);

    let token = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("a token");
    let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.expect("verifies through JWKS");
    assert_eq!(claims["tenant"], format!("org-{}", client_id.len()), "{claims}");
    assert_eq!(claims["package"], "string", "a helper imports @kinde/infrastructure too: {claims}");

    // Only a helper changes: the new version runs it (workers cache code by a hash over all modules).
    let (status, body) = deploy_project(&stack, "team").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deployments"][0]["version"], 2, "{body}");
    let token = stack.m2m_token(&client_id, &client_secret, "acme").await.expect("a token");
    let claims = stack.verify(token["access_token"].as_str().unwrap(), "acme").await.unwrap();
    assert_eq!(claims["tenant"], format!("team-{}", client_id.len()), "{claims}");
}

#[tokio::test]
async fn an_error_in_a_helper_names_the_helper_and_its_typescript_line() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    let workflow = WORKFLOW.replace("event.context.application.clientId", "\"\"");
    let helper = helper("org");
    let (status, body) =
        stack.deploy(&[(WORKFLOW_PATH, &workflow), ("utils/tenant.ts", &helper), ("utils/format.ts", FORMAT)]).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = stack.m2m_token(&client_id, &client_secret, "acme").await.expect_err("the helper throws");
    assert_eq!(status, 500);
    let runs = stack.runs().await;
    let error = runs[0]["error"].as_str().unwrap();
    // Line 8 of the TypeScript: the interface above it is gone from the JavaScript.
    assert!(error.contains("Error: no client id (utils/tenant.ts:8:"), "{error}");

    // A helper whose top level throws is refused at deploy, naming the helper.
    let throwing = format!("{helper}\nthrow new RangeError(\"not configured\");\n");
    let (status, body) =
        stack.deploy(&[(WORKFLOW_PATH, &workflow), ("utils/tenant.ts", &throwing), ("utils/format.ts", FORMAT)]).await;
    assert_eq!(status, 400, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("utils/tenant.ts:13:"), "{message}");
    assert!(message.contains("not configured"), "{message}");
}

#[tokio::test]
async fn imports_that_cannot_be_followed_are_refused_at_their_place_and_nothing_is_stored() {
    let stack = Stack::start().await;
    let helper = helper("org");
    let cases = [
        // (what replaces the helper's import of ./format.js, what the error says)
        ("lodash", "cannot import the package \"lodash\""),
        ("../../outside.ts", "leads outside the project"),
        ("./formats", "the project has no file utils/formats"),
        ("/etc/passwd", "relative path"),
    ];
    for (specifier, expected) in cases {
        let broken = helper.replace("./format.js", specifier);
        let (status, body) =
            stack.deploy(&[(WORKFLOW_PATH, WORKFLOW), ("utils/tenant.ts", &broken), ("utils/format.ts", FORMAT)]).await;
        assert_eq!(status, 400, "{specifier}: {body}");
        assert_eq!(body["errors"][0]["code"], "INVALID_WORKFLOW");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("utils/tenant.ts:1:23: "), "{specifier}: {message}");
        assert!(message.contains(expected), "{specifier}: {message}");
    }
    // A helper calling a binding the workflow does not declare, at the call.
    let undeclared = helper.replace("  return {", "  kinde.env.get(\"REGION\");\n  return {");
    let (status, body) =
        stack.deploy(&[(WORKFLOW_PATH, WORKFLOW), ("utils/tenant.ts", &undeclared), ("utils/format.ts", FORMAT)]).await;
    assert_eq!(status, 400, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("utils/tenant.ts:10:3: kinde.env needs the kinde.env binding"), "{message}");

    // The workflow itself, without its helper.
    let (status, body) = stack.deploy(&[(WORKFLOW_PATH, WORKFLOW)]).await;
    assert_eq!(status, 400, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("{WORKFLOW_PATH}:2:30: ")), "{message}");
    assert!(message.contains("no file utils/tenant"), "{message}");

    let (status, body) = stack.management(reqwest::Method::GET, "workflows", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["deployments"], serde_json::json!([]), "nothing was stored: {body}");
}
