//! Kinde's own management client (`@kinde/management-api-js`, from the npm registry) works
//! against claimflow unchanged: the calls a Kinde user's provisioning script makes.

use std::process::Command;

use claimflow_e2e::Stack;
use serde_json::Value;

#[tokio::test]
async fn kindes_management_client_provisions_an_application_organization_and_property() {
    let stack = Stack::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/npm/management-api.mjs");
    assert!(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/npm/node_modules/@kinde/management-api-js"))
            .exists(),
        "install the npm test dependencies: npm ci --prefix tests/npm (scripts/test does)"
    );
    let output = tokio::task::spawn_blocking({
        let (issuer, id, secret) =
            (stack.issuer.clone(), stack.admin.client_id.clone(), stack.admin.client_secret.clone());
        move || {
            Command::new("node")
                .arg(script)
                .env("CLAIMFLOW_ISSUER", issuer)
                .env("CLAIMFLOW_CLIENT_ID", id)
                .env("CLAIMFLOW_CLIENT_SECRET", secret)
                .output()
                .expect("node runs")
        }
    })
    .await
    .unwrap();
    assert!(output.status.success(), "the Kinde client failed: {}", String::from_utf8_lossy(&output.stderr));
    let read: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");

    let application_id = read["created"]["application"]["id"].as_str().unwrap();
    assert_eq!(read["created"]["application"]["client_id"], application_id);
    assert!(read["created"]["application"]["client_secret"].as_str().is_some_and(|s| s.len() >= 43));
    assert_eq!(read["application"]["application"]["name"], "Provisioned by the Kinde client");
    assert_eq!(read["application"]["application"]["type"], "m2m");

    let org_code = read["organization"]["organization"]["code"].as_str().unwrap();
    assert!(org_code.starts_with("org_"));
    assert_eq!(read["readOrganization"]["code"], org_code);
    assert_eq!(read["readOrganization"]["name"], "Globex");
    assert_eq!(read["readOrganization"]["external_id"], "globex-1");

    assert!(read["property"]["property"]["id"].as_str().is_some_and(|id| id.starts_with("prop_")));
    assert!(read["properties"]["properties"].as_array().unwrap().iter().any(|p| p["key"] == "org_code"));
    let value = read["values"]["properties"].as_array().unwrap().iter().find(|p| p["key"] == "org_code").unwrap();
    assert_eq!(value["value"], org_code);

    // And what the client wrote is what claimflow's own API reads.
    let (_, properties) =
        stack.management(reqwest::Method::GET, &format!("applications/{application_id}/properties"), None).await;
    assert_eq!(properties["properties"][0]["value"], org_code);
}
