//! Workflow sources and the npm tools tests deploy them with.

/// A `Workflow.ts` for the M2M trigger with the given settings extras and body.
pub fn m2m_workflow(id: &str, settings_extra: &str, bindings: &str, body: &str) -> String {
    format!(
        r#"import {{ WorkflowSettings, WorkflowTrigger, m2mTokenClaims }} from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {{
  id: "{id}",
  trigger: WorkflowTrigger.M2MTokenGeneration,
  {settings_extra}
  bindings: {{ {bindings} }},
}};

export default async function handle(event: any): Promise<void> {{
{body}
}}
"#
    )
}

/// A binary installed by `npm ci --prefix tests/npm` (scripts/test does that).
pub fn npm_bin(name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("npm/node_modules/.bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: install the npm test dependencies with `npm ci --prefix tests/npm` (scripts/test does)",
        path.display()
    );
    path
}
