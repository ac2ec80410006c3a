//! What a failing workflow tells its author.

use claimflow_e2e::Stack;

#[tokio::test]
async fn errors_name_the_line_and_column_of_the_original_typescript() {
    let stack = Stack::start().await;
    let (client_id, client_secret) = stack.m2m_client_for("acme").await;
    // Types and interfaces disappear in the JavaScript, so its lines differ from these.
    let workflow = r#"import { WorkflowSettings, WorkflowTrigger } from "@kinde/infrastructure";

interface Customer {
  id: string;
  tier: "gold" | "silver";
}

type Lookup = (id: string) => Customer | undefined;

export const workflowSettings: WorkflowSettings = {
  id: "failing",
  trigger: WorkflowTrigger.M2MTokenGeneration,
  bindings: { "kinde.m2mToken": {} },
};

const lookup: Lookup = (_id: string): Customer | undefined => undefined;

export default async function handle(event: any): Promise<void> {
  const customer = lookup(event.context.application.clientId) as Customer;
  kinde.m2mToken.setCustomClaim("tier", customer.tier);
}
"#;
    let (status, body) = stack.deploy(&[("kindeSrc/environment/workflows/failing/Workflow.ts", workflow)]).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = stack.m2m_token(&client_id, &client_secret, "acme").await.expect_err("the workflow fails");
    assert_eq!(status, 500);
    let runs = stack.runs().await;
    let error = runs[0]["error"].as_str().unwrap();
    assert!(error.contains("TypeError"), "{error}");
    assert!(error.contains("kindeSrc/environment/workflows/failing/Workflow.ts:20:"), "{error}");
}
