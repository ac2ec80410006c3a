//! Users, roles, permissions, feature flags and organization membership through Kinde's paths:
//! everything user tokens will be built from.

use claimflow_e2e::Stack;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn users_join_organizations_with_roles_permissions_and_properties() {
    let stack = Stack::start().await;
    let (status, user) = stack
        .management(
            Method::POST,
            "user",
            Some(json!({
                "profile": { "given_name": "Ada", "family_name": "Lovelace" },
                "identities": [{ "type": "email", "details": { "email": "Ada@Example.com" } }],
            })),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    let user_id = user["id"].as_str().unwrap().to_owned();
    assert!(user_id.starts_with("kp_"));
    let (_, read) = stack.management(Method::GET, &format!("user?id={user_id}"), None).await;
    assert_eq!((read["email"].as_str(), read["first_name"].as_str()), (Some("ada@example.com"), Some("Ada")));

    let (_, permission) = stack
        .management(Method::POST, "permissions", Some(json!({ "name": "Read orders", "key": "read:orders" })))
        .await;
    let permission_id = permission["permission"]["id"].as_str().unwrap().to_owned();
    stack.management(Method::POST, "permissions", Some(json!({ "name": "Refund", "key": "refund" }))).await;
    let (_, role) = stack.management(Method::POST, "roles", Some(json!({ "name": "Support", "key": "support" }))).await;
    let role_id = role["role"]["id"].as_str().unwrap().to_owned();
    let (status, body) = stack
        .management(
            Method::PATCH,
            &format!("roles/{role_id}/permissions"),
            Some(json!({ "permissions": [{ "id": permission_id }] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, held) = stack.management(Method::GET, &format!("roles/{role_id}/permissions"), None).await;
    assert_eq!(held["permissions"], json!([{ "key": "read:orders" }]));

    let (status, _) = stack
        .management(
            Method::POST,
            "feature_flags",
            Some(json!({ "name": "Dark mode", "key": "dark_mode", "type": "bool", "default_value": "true" })),
        )
        .await;
    assert_eq!(status, 200);
    let (_, flags) = stack.management(Method::GET, "environment/feature_flags", None).await;
    assert_eq!(flags["feature_flags"]["dark_mode"], json!({ "type": "bool", "value": true }));

    let (_, org) = stack.management(Method::POST, "organization", Some(json!({ "name": "Acme Inc" }))).await;
    let code = org["organization"]["code"].as_str().unwrap().to_owned();
    let (status, body) = stack
        .management(
            Method::POST,
            &format!("organizations/{code}/users"),
            Some(json!({ "users": [{ "id": user_id, "roles": ["support"], "permissions": ["refund"] }] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, members) = stack.management(Method::GET, &format!("organizations/{code}/users"), None).await;
    assert_eq!(members["organization_users"][0]["id"], user_id.as_str());
    assert_eq!(members["organization_users"][0]["roles"], json!(["support"]));
    assert_eq!(members["organization_users"][0]["permissions"], json!(["refund"]));

    // A role that does not exist changes nothing.
    let (status, _) = stack
        .management(
            Method::POST,
            &format!("organizations/{code}/users"),
            Some(json!({ "users": [{ "id": user_id, "roles": ["nope"] }] })),
        )
        .await;
    assert_eq!(status, 404);
    let (_, members) = stack.management(Method::GET, &format!("organizations/{code}/users"), None).await;
    assert_eq!(members["organization_users"][0]["roles"], json!(["support"]));

    stack
        .management(Method::POST, "properties", Some(json!({ "name": "Plan", "key": "plan", "type": "single_line_text", "context": "org", "is_private": false })))
        .await;
    let (status, _) =
        stack.management(Method::PUT, &format!("organizations/{code}/properties/plan?value=enterprise"), None).await;
    assert_eq!(status, 200);
    let (_, properties) = stack.management(Method::GET, &format!("organizations/{code}/properties"), None).await;
    assert_eq!(properties["properties"][0]["value"], "enterprise");

    assert_eq!(stack.management(Method::DELETE, &format!("organizations/{code}/users/{user_id}"), None).await.0, 200);
    let (_, members) = stack.management(Method::GET, &format!("organizations/{code}/users"), None).await;
    assert_eq!(members["organization_users"], json!([]));
    assert_eq!(stack.management(Method::DELETE, &format!("user?id={user_id}"), None).await.0, 200);
    assert_eq!(stack.management(Method::GET, &format!("user?id={user_id}"), None).await.0, 404);
}

#[tokio::test]
async fn bad_user_input_is_refused_naming_the_field() {
    let stack = Stack::start().await;
    let create = |email: &str| json!({ "profile": { "given_name": "A", "family_name": "B" }, "identities": [{ "type": "email", "details": { "email": email } }] });
    assert_eq!(stack.management(Method::POST, "user", Some(create("a@example.com"))).await.0, 200);
    let (status, body) = stack.management(Method::POST, "user", Some(create("A@example.com"))).await;
    assert_eq!(status, 409, "emails are unique whatever their case: {body}");
    let (status, body) = stack.management(Method::POST, "user", Some(create("not-an-email"))).await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("email"));
    let (status, body) = stack.management(Method::POST, "user", Some(json!({ "profile": {}, "identities": [] }))).await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("identities"));
    let (status, _) = stack
        .management(
            Method::POST,
            "feature_flags",
            Some(json!({ "name": "n", "key": "k", "type": "int", "default_value": "many" })),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_or_imported_bcrypt_never_in_clear() {
    let stack = Stack::start().await;
    let (_, user) = stack
        .management(
            Method::POST,
            "user",
            Some(json!({ "profile": { "given_name": "G", "family_name": "H" }, "identities": [{ "type": "email", "details": { "email": "g@example.com" } }] })),
        )
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let path = format!("users/{id}/password");
    assert_eq!(stack.management(Method::PUT, &path, Some(json!({ "password": "correct horse battery" }))).await.0, 200);
    let store = claimflow_storage::Store::open(&stack.database_url).await.unwrap();
    let stored = store.find_user(&id).await.unwrap().unwrap().password_hash.unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains("correct horse"), "{stored}");
    assert!(auth_service::passwords::verify(&stored, "correct horse battery"));

    let exported = "$2b$04$KmDeN4yh5yFz9w8oHC0ZPO9Pu3dWvC2E8gP1fB9l0o0oCJZgY6w5W";
    let (status, body) = stack
        .management(Method::PUT, &path, Some(json!({ "hashed_password": exported, "hashing_method": "bcrypt" })))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(store.find_user(&id).await.unwrap().unwrap().password_hash.as_deref(), Some(exported));

    for (body, fragment) in [
        (json!({ "password": "short" }), "8 to 1024"),
        (json!({ "hashed_password": "x", "hashing_method": "md5" }), "md5"),
        (json!({ "hashed_password": "not a hash", "hashing_method": "bcrypt" }), "bcrypt"),
        (json!({}), "either password"),
    ] {
        let (status, answer) = stack.management(Method::PUT, &path, Some(body)).await;
        assert_eq!(status, 400);
        assert!(answer["errors"][0]["message"].as_str().unwrap().contains(fragment), "{answer}");
    }
    assert_eq!(
        stack.management(Method::PUT, "users/kp_missing/password", Some(json!({ "password": "long enough" }))).await.0,
        404
    );
}
