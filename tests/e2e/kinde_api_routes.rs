//! The management routes Kinde workflows call through `createKindeAPI`: user properties, users
//! and organizations with `expand`, a member's roles and permissions, connections, and billing,
//! which claimflow does not have and says so.

use claimflow_e2e::Stack;
use reqwest::Method;
use serde_json::{json, Value};

/// A user in an organization with a role (holding a permission) and a `usr` property `tier`.
async fn member(stack: &Stack) -> (String, String) {
    let user_id = stack.user_with_password("ada@example.com", "Ada", "Lovelace", "correct horse battery").await;
    let (_, permission) =
        stack.management(Method::POST, "permissions", Some(json!({ "name": "Refund", "key": "refund" }))).await;
    let permission_id = permission["permission"]["id"].as_str().unwrap().to_owned();
    let (_, role) = stack.management(Method::POST, "roles", Some(json!({ "name": "Support", "key": "support" }))).await;
    let role_id = role["role"]["id"].as_str().unwrap().to_owned();
    let body = json!({ "permissions": [{ "id": permission_id }] });
    assert_eq!(stack.management(Method::PATCH, &format!("roles/{role_id}/permissions"), Some(body)).await.0, 200);
    let (_, org) = stack.management(Method::POST, "organization", Some(json!({ "name": "Acme Inc" }))).await;
    let code = org["organization"]["code"].as_str().unwrap().to_owned();
    let body = json!({ "users": [{ "id": user_id, "roles": ["support"] }] });
    assert_eq!(stack.management(Method::POST, &format!("organizations/{code}/users"), Some(body)).await.0, 200);
    for (key, context) in [("tier", "usr"), ("visits", "usr"), ("region", "org")] {
        let body =
            json!({ "name": key, "key": key, "type": "single_line_text", "context": context, "is_private": false });
        let (status, body) = stack.management(Method::POST, "properties", Some(body)).await;
        assert_eq!(status, 200, "{body}");
    }
    (user_id, code)
}

fn values(listed: &Value) -> Vec<(String, String)> {
    listed["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["key"].as_str().unwrap().to_owned(), p["value"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn user_properties_are_read_and_set_one_at_a_time_or_all_or_nothing() {
    let stack = Stack::start().await;
    let (user_id, _) = member(&stack).await;
    let path = format!("users/{user_id}/properties");
    let (status, listed) = stack.management(Method::GET, &path, None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(values(&listed), [("tier".into(), "".into()), ("visits".into(), "".into())], "only usr properties");

    let (status, body) = stack.management(Method::PUT, &format!("{path}/tier?value=gold"), None).await;
    assert_eq!(status, 200, "{body}");
    let body = json!({ "properties": { "tier": "platinum", "visits": "3" } });
    assert_eq!(stack.management(Method::PATCH, &path, Some(body)).await.0, 200);
    let (_, listed) = stack.management(Method::GET, &path, None).await;
    assert_eq!(values(&listed), [("tier".into(), "platinum".into()), ("visits".into(), "3".into())]);

    // One bad key refuses the whole change, naming it.
    let body = json!({ "properties": { "tier": "bronze", "nope": "x" } });
    let (status, body) = stack.management(Method::PATCH, &path, Some(body)).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.to_string().contains("nope"), "{body}");
    let body = json!({ "properties": { "region": "eu" } });
    let (status, body) = stack.management(Method::PATCH, &path, Some(body)).await;
    assert_eq!(status, 409, "an org property holds no user value: {body}");
    let (_, listed) = stack.management(Method::GET, &path, None).await;
    assert_eq!(values(&listed)[0], ("tier".into(), "platinum".into()), "nothing was half-written");
    let (status, _) = stack.management(Method::GET, "users/kp_nobody/properties", None).await;
    assert_eq!(status, 404);
    let (status, body) = stack.management(Method::PUT, &format!("{path}/tier"), None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("value"), "{body}");
}

#[tokio::test]
async fn users_members_and_connections_answer_in_kindes_shapes() {
    let stack = Stack::start().await;
    let (user_id, code) = member(&stack).await;

    let (status, user) =
        stack.management(Method::GET, &format!("user?id={user_id}&expand=organizations,identities"), None).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["organizations"], json!([code]));
    assert_eq!(user["identities"], json!([{ "type": "email", "identity": "ada@example.com" }]));
    let (_, plain) = stack.management(Method::GET, &format!("user?id={user_id}"), None).await;
    assert!(plain.get("organizations").is_none(), "{plain}");
    let (status, body) = stack.management(Method::GET, &format!("user?id={user_id}&expand=friends"), None).await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("friends"), "{body}");

    let (status, roles) =
        stack.management(Method::GET, &format!("organizations/{code}/users/{user_id}/roles"), None).await;
    assert_eq!(status, 200, "{roles}");
    assert_eq!(roles["roles"][0]["key"], "support");
    let (_, permissions) =
        stack.management(Method::GET, &format!("organizations/{code}/users/{user_id}/permissions"), None).await;
    assert_eq!(permissions["permissions"][0]["key"], "refund", "through the role: {permissions}");
    let outsider = stack.user_with_password("bob@example.com", "Bob", "B", "correct horse battery").await;
    let (status, body) =
        stack.management(Method::GET, &format!("organizations/{code}/users/{outsider}/roles"), None).await;
    assert_eq!(status, 404);
    assert!(body.to_string().contains("not a member"), "{body}");

    let (status, connections) = stack.management(Method::GET, "connections", None).await;
    assert_eq!(status, 200, "{connections}");
    let id = connections["connections"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(id, "conn_password", "the connection sign-in events name");
    let (status, connection) = stack.management(Method::GET, &format!("connections/{id}"), None).await;
    assert_eq!((status, connection["connection"]["strategy"].as_str()), (200, Some("email:password")), "{connection}");
    assert_eq!(
        connection["connection"]["display_name"], "Email and password",
        "Kinde's shape: {{connection: {{...}}}}"
    );
    assert_eq!(stack.management(Method::GET, "connections/conn_nope", None).await.0, 404);

    // No billing: each way of asking says so.
    for path in [
        format!("user?id={user_id}&expand=billing"),
        format!("organization?code={code}&expand=billing"),
        "billing/entitlements".to_owned(),
    ] {
        let (status, body) = stack.management(Method::GET, &path, None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["errors"][0]["code"], "BILLING_NOT_SUPPORTED", "{path}: {body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("billing is not part of claimflow"));
    }
}

#[tokio::test]
async fn a_user_token_workflow_reads_and_sets_user_properties_through_create_kinde_api() {
    let stack = Stack::start().await;
    let (user_id, _) = member(&stack).await;
    let body = json!({ "properties": { "tier": "gold", "visits": "0" } });
    assert_eq!(stack.management(Method::PATCH, &format!("users/{user_id}/properties"), Some(body)).await.0, 200);
    let (client_id, client_secret) =
        stack.management_client_with_scopes(&["read:user_properties", "update:user_properties"]).await;
    for (key, value, is_secret) in [
        ("KINDE_WF_M2M_CLIENT_ID", client_id.as_str(), false),
        ("KINDE_WF_M2M_CLIENT_SECRET", client_secret.as_str(), true),
    ] {
        let body = json!({ "key": key, "value": value, "is_secret": is_secret });
        assert_eq!(stack.management(Method::POST, "environment_variables", Some(body)).await.0, 200);
    }
    // Kinde-style: neither kinde.fetch nor url declared.
    stack
        .deploy_user_workflow(
            r#"import { createKindeAPI, accessTokenCustomClaims, WorkflowSettings, WorkflowTrigger } from "@kinde/infrastructure";

export const workflowSettings: WorkflowSettings = {
  id: "userProperties",
  trigger: WorkflowTrigger.UserTokenGeneration,
  bindings: { "kinde.accessToken": {}, "kinde.env": {} },
};

export default async function Workflow(event: any) {
  const api = await createKindeAPI(event);
  const userId = event.context.user.id;
  const { data } = await api.get({ endpoint: `users/${userId}/properties` });
  const value = (key: string) => data.properties.find((p: { key: string }) => p.key === key)?.value;
  await api.put({ endpoint: `users/${userId}/properties/visits?value=${Number(value("visits")) + 1}` });
  const claims = accessTokenCustomClaims<{ tier: string }>();
  claims.tier = value("tier");
}
"#,
        )
        .await;
    let app = stack.web_app("reg").await;
    let tokens = stack.user_tokens(&app, "ada@example.com", "correct horse battery", &[]).await;
    let access = stack.verify_user_token(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(access["tier"], "gold", "{access}");
    let (_, listed) = stack.management(Method::GET, &format!("users/{user_id}/properties"), None).await;
    assert_eq!(values(&listed)[1], ("visits".into(), "1".into()), "the workflow set a value");
}

#[tokio::test]
async fn organizations_have_unique_handles_as_in_kinde() {
    let stack = Stack::start().await;
    let body = json!({ "name": "Acme EU", "handle": "acme-eu", "external_id": "crm-1" });
    let (status, created) = stack.management(Method::POST, "organization", Some(body)).await;
    assert_eq!(status, 200, "{created}");
    let code = created["organization"]["code"].as_str().unwrap().to_owned();
    let (_, read) = stack.management(Method::GET, &format!("organization?code={code}"), None).await;
    assert_eq!((read["handle"].as_str(), read["external_id"].as_str()), (Some("acme-eu"), Some("crm-1")), "{read}");

    let (status, body) =
        stack.management(Method::POST, "organization", Some(json!({ "name": "Other", "handle": "acme-eu" }))).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("\"acme-eu\""), "{body}");
    let (status, body) =
        stack.management(Method::POST, "organization", Some(json!({ "name": "Bad", "handle": "Acme EU" }))).await;
    assert_eq!((status, body["errors"][0]["code"].as_str()), (400, Some("INVALID_HANDLE")), "{body}");

    let change = json!({ "handle": "acme-europe" });
    assert_eq!(stack.management(Method::PATCH, &format!("organization/{code}"), Some(change)).await.0, 200);
    let (_, listed) = stack.management(Method::GET, "organizations", None).await;
    assert_eq!(listed["organizations"][0]["handle"], "acme-europe", "{listed}");
    // The old handle is free again.
    let body = json!({ "name": "Acme Labs", "handle": "acme-eu" });
    assert_eq!(stack.management(Method::POST, "organization", Some(body)).await.0, 200);
}

#[tokio::test]
async fn a_members_roles_are_given_and_taken_through_kindes_routes() {
    let stack = Stack::start().await;
    let (user_id, code) = member(&stack).await;
    let (_, auditor) =
        stack.management(Method::POST, "roles", Some(json!({ "name": "Auditor", "key": "auditor" }))).await;
    let auditor_id = auditor["role"]["id"].as_str().unwrap().to_owned();
    let roles_path = format!("organizations/{code}/users/{user_id}/roles");
    let keys = |body: &Value| -> Vec<String> {
        body["roles"].as_array().unwrap().iter().map(|role| role["key"].as_str().unwrap().to_owned()).collect()
    };

    let (status, body) = stack.management(Method::POST, &roles_path, Some(json!({ "role_id": auditor_id }))).await;
    assert_eq!(status, 200, "{body}");
    let (_, roles) = stack.management(Method::GET, &roles_path, None).await;
    assert_eq!(keys(&roles), ["auditor", "support"], "{roles}");
    // Giving it again changes nothing.
    assert_eq!(stack.management(Method::POST, &roles_path, Some(json!({ "role_id": auditor_id }))).await.0, 200);

    let (status, body) = stack.management(Method::POST, &roles_path, Some(json!({ "role_id": "role_nope" }))).await;
    assert_eq!(status, 404, "{body}");
    let stranger = stack.user_with_password("eve@example.com", "Eve", "Stranger", "correct horse battery").await;
    let path = format!("organizations/{code}/users/{stranger}/roles");
    let (status, body) = stack.management(Method::POST, &path, Some(json!({ "role_id": auditor_id }))).await;
    assert_eq!(status, 404, "not a member: {body}");

    assert_eq!(stack.management(Method::DELETE, &format!("{roles_path}/{auditor_id}"), None).await.0, 200);
    let (_, roles) = stack.management(Method::GET, &roles_path, None).await;
    assert_eq!(keys(&roles), ["support"], "{roles}");
    assert_eq!(stack.management(Method::DELETE, &format!("{roles_path}/{auditor_id}"), None).await.0, 404);
}
