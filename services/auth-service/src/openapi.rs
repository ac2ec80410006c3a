//! The management API's OpenAPI 3.0 document, served at `/api/v1/openapi.json`, made from one
//! table of operations so that documentation and conformance test share a single source.

use serde_json::{json, Map, Value};

/// A request body field: name, JSON type, required.
type Field = (&'static str, &'static str, bool);

pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub scope: &'static str,
    pub query: &'static [&'static str],
    pub body: Option<&'static [Field]>,
    /// Statuses besides 401 and 403, which every operation may answer.
    pub responses: &'static [u16],
}

const PAGE: &[&str] = &["page_size", "next_token"];

macro_rules! op {
    ($method:literal $path:literal, $scope:literal, $summary:literal, query $query:expr, body $body:expr, $($status:literal)*) => {
        Operation { method: $method, path: $path, summary: $summary, scope: $scope, query: $query, body: $body, responses: &[$($status),*] }
    };
}

pub const OPERATIONS: &[Operation] = &[
    op!("get" "/apis", "read:apis", "List APIs", query PAGE, body None, 200 400),
    op!("post" "/apis", "create:apis", "Create an API", query &[], body Some(&[("name", "string", true), ("audience", "string", true)]), 200 400 409),
    op!("get" "/apis/{api_id}", "read:apis", "Get an API with its scopes", query &[], body None, 200 404),
    op!("delete" "/apis/{api_id}", "delete:apis", "Delete an API", query &[], body None, 200 404 409),
    op!("patch" "/apis/{api_id}/applications", "update:apis", "Authorize or revoke applications", query &[], body Some(&[("applications", "array", true)]), 200 400 404),
    op!("get" "/apis/{api_id}/scopes", "read:api_scopes", "List an API's scopes", query &[], body None, 200 404),
    op!("post" "/apis/{api_id}/scopes", "create:api_scopes", "Create a scope", query &[], body Some(&[("key", "string", true), ("description", "string", false)]), 200 400 404 409),
    op!("post" "/apis/{api_id}/applications/{application_id}/scopes/{scope_id}", "update:apis", "Grant a scope to an authorized application", query &[], body None, 200 404 409),
    op!("get" "/applications", "read:applications", "List applications", query PAGE, body None, 200 400),
    op!("post" "/applications", "create:applications", "Create an application (the client secret is returned once)", query &[], body Some(&[("name", "string", true), ("type", "string", true)]), 200 400),
    op!("get" "/applications/{application_id}", "read:applications", "Get an application", query &[], body None, 200 404),
    op!("patch" "/applications/{application_id}", "update:applications", "Update an application", query &[], body Some(&[("name", "string", false)]), 200 400 404),
    op!("delete" "/applications/{application_id}", "delete:applications", "Delete an application", query &[], body None, 200 404 409),
    op!("post" "/applications/{application_id}/rotate_secret", "update:applications", "Rotate the client secret (returned once)", query &[], body None, 200 400 404 409),
    op!("get" "/applications/{app_id}/auth_redirect_urls", "read:applications", "Redirect URLs", query &[], body None, 200 404),
    op!("post" "/applications/{app_id}/auth_redirect_urls", "update:applications", "Add redirect URLs", query &[], body Some(&[("urls", "array", true)]), 200 400 404),
    op!("put" "/applications/{app_id}/auth_redirect_urls", "update:applications", "Replace redirect URLs", query &[], body Some(&[("urls", "array", true)]), 200 400 404),
    op!("delete" "/applications/{app_id}/auth_redirect_urls", "update:applications", "Remove redirect URLs", query &["urls"], body None, 200 400 404),
    op!("get" "/applications/{app_id}/auth_logout_urls", "read:applications", "Logout URLs", query &[], body None, 200 404),
    op!("post" "/applications/{app_id}/auth_logout_urls", "update:applications", "Add logout URLs", query &[], body Some(&[("urls", "array", true)]), 200 400 404),
    op!("put" "/applications/{app_id}/auth_logout_urls", "update:applications", "Replace logout URLs", query &[], body Some(&[("urls", "array", true)]), 200 400 404),
    op!("delete" "/applications/{app_id}/auth_logout_urls", "update:applications", "Remove logout URLs", query &["urls"], body None, 200 400 404),
    op!("get" "/applications/{application_id}/properties", "read:application_properties", "An application's property values", query &[], body None, 200 404),
    op!("put" "/applications/{application_id}/properties/{property_key}", "update:application_properties", "Set an application's property value", query &[], body Some(&[("value", "string", true)]), 200 400 404 409),
    op!("patch" "/applications/{application_id}/tokens", "update:applications", "Token settings, including token_properties", query &[], body Some(&[("access_token_lifetime", "integer", false), ("token_properties", "array", false)]), 200 400 404),
    op!("get" "/properties", "read:properties", "List properties", query PAGE, body None, 200 400),
    op!("post" "/properties", "create:properties", "Create a property", query &[], body Some(&[("name", "string", true), ("key", "string", true), ("type", "string", false), ("context", "string", true), ("is_private", "boolean", false)]), 200 400 409),
    op!("put" "/properties/{property_id}", "update:properties", "Update a property", query &[], body Some(&[("name", "string", false), ("description", "string", false), ("is_private", "boolean", false)]), 200 400 404),
    op!("delete" "/properties/{property_id}", "delete:properties", "Delete a property", query &[], body None, 200 404),
    op!("get" "/organization", "read:organizations", "Get an organization by code", query &["code"], body None, 200 400 404),
    op!("post" "/organization", "create:organizations", "Create an organization", query &[], body Some(&[("name", "string", true), ("external_id", "string", false)]), 200 400),
    op!("patch" "/organization/{org_code}", "update:organizations", "Update an organization", query &[], body Some(&[("name", "string", false), ("external_id", "string", false)]), 200 400 404),
    op!("delete" "/organization/{org_code}", "delete:organizations", "Delete an organization", query &[], body None, 200 404),
    op!("get" "/organizations", "read:organizations", "List organizations", query &["page_size", "next_token", "sort"], body None, 200 400),
    op!("get" "/organizations/{org_code}/users", "read:organization_users", "An organization's users with their roles and permissions", query PAGE, body None, 200 400 404),
    op!("post" "/organizations/{org_code}/users", "create:organization_users", "Add users with roles and permissions", query &[], body Some(&[("users", "array", true)]), 200 400 404),
    op!("delete" "/organizations/{org_code}/users/{user_id}", "delete:organization_users", "Remove a user from an organization", query &[], body None, 200 404),
    op!("get" "/organizations/{org_code}/properties", "read:organization_properties", "An organization's property values", query &[], body None, 200 404),
    op!("put" "/organizations/{org_code}/properties/{property_key}", "update:organization_properties", "Set an organization's property value", query &["value"], body None, 200 400 404 409),
    op!("post" "/user", "create:users", "Create a user", query &[], body Some(&[("profile", "object", true), ("identities", "array", true), ("organization_code", "string", false)]), 200 400 404 409),
    op!("get" "/user", "read:users", "Get a user by id", query &["id"], body None, 200 400 404),
    op!("delete" "/user", "delete:users", "Delete a user", query &["id"], body None, 200 400 404),
    op!("get" "/users", "read:users", "List users", query PAGE, body None, 200 400),
    op!("put" "/users/{user_id}/password", "update:users", "Set a password: in clear (stored argon2id) or Kinde's pre-hashed bcrypt", query &[], body Some(&[("password", "string", false), ("hashed_password", "string", false), ("hashing_method", "string", false)]), 200 400 404),
    op!("get" "/roles", "read:roles", "List roles", query PAGE, body None, 200 400),
    op!("post" "/roles", "create:roles", "Create a role", query &[], body Some(&[("name", "string", true), ("key", "string", true), ("description", "string", false)]), 200 400 409),
    op!("get" "/roles/{role_id}/permissions", "read:roles", "A role's permissions", query &[], body None, 200 404),
    op!("patch" "/roles/{role_id}/permissions", "update:roles", "Add or remove a role's permissions", query &[], body Some(&[("permissions", "array", true)]), 200 400 404),
    op!("get" "/permissions", "read:permissions", "List permissions", query PAGE, body None, 200 400),
    op!("post" "/permissions", "create:permissions", "Create a permission", query &[], body Some(&[("name", "string", true), ("key", "string", true), ("description", "string", false)]), 200 400 409),
    op!("post" "/feature_flags", "create:feature_flags", "Create a feature flag", query &[], body Some(&[("name", "string", true), ("key", "string", true), ("type", "string", true), ("default_value", "string", true)]), 200 400 409),
    op!("get" "/environment/feature_flags", "read:feature_flags", "The environment's feature flags", query &[], body None, 200),
    op!("get" "/environment_variables", "read:environment_variables", "List environment variables (secret values are never returned)", query PAGE, body None, 200 400),
    op!("post" "/environment_variables", "create:environment_variables", "Create an environment variable", query &[], body Some(&[("key", "string", true), ("value", "string", true), ("is_secret", "boolean", false)]), 200 400 409),
    op!("get" "/environment_variables/{variable_id}", "read:environment_variables", "Get an environment variable", query &[], body None, 200 404),
    op!("patch" "/environment_variables/{variable_id}", "update:environment_variables", "Update an environment variable", query &[], body Some(&[("key", "string", false), ("value", "string", false), ("is_secret", "boolean", false)]), 200 400 404 409),
    op!("delete" "/environment_variables/{variable_id}", "delete:environment_variables", "Delete an environment variable", query &[], body None, 200 404),
    op!("get" "/workflows", "read:workflows", "List workflow deployments", query PAGE, body None, 200 400),
    op!("post" "/workflows/deployments", "create:workflows", "Deploy workflow files (all or nothing)", query &[], body Some(&[("files", "array", true), ("timeout_ms", "integer", false)]), 200 400),
    op!("post" "/workflows/{workflow_id}/rollback", "update:workflows", "Make a version live", query &[], body Some(&[("version", "integer", true)]), 200 400 404),
    op!("delete" "/workflows/{workflow_id}", "delete:workflows", "Delete a workflow and its versions", query &[], body None, 200 404),
    op!("get" "/workflows/runs", "read:workflows", "List runs, newest first", query &["workflow_id", "status", "since", "until", "page_size", "next_token"], body None, 200 400),
    op!("get" "/workflows/runs/{run_id}", "read:workflows", "Get one run", query &[], body None, 200 404),
    op!("get" "/audit/tokens", "read:audit", "List issued tokens, newest first", query &["client_id", "org_code", "jti", "since", "until", "page_size", "next_token"], body None, 200 400),
];

fn description(status: u16) -> &'static str {
    match status {
        200 => "Success",
        400 => "Invalid request: the message names the field at fault",
        401 => "No valid bearer token for the management API",
        403 => "The token lacks the scope this operation needs",
        404 => "Not found",
        409 => "Conflicts with the current state",
        _ => "",
    }
}

/// The OpenAPI document for `issuer`.
pub fn document(issuer: &str) -> Value {
    let mut paths = Map::new();
    for operation in OPERATIONS {
        let mut parameters: Vec<Value> = operation
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        parameters.extend(
            operation
                .query
                .iter()
                .map(|name| json!({ "name": name, "in": "query", "required": false, "schema": { "type": "string" } })),
        );
        let mut responses = Map::new();
        for status in operation.responses.iter().chain(&[401, 403]) {
            responses.insert(
                status.to_string(),
                json!({ "description": description(*status), "content": { "application/json": { "schema": {
                    "$ref": if *status == 200 { "#/components/schemas/success" } else { "#/components/schemas/error" }
                }}}}),
            );
        }
        let mut entry = json!({
            "summary": operation.summary,
            "operationId": format!("{}{}", operation.method, operation.path.replace(['/', '{', '}'], "_")),
            "parameters": parameters,
            "responses": responses,
            "security": [{ "bearer": [operation.scope] }],
            "x-required-scope": operation.scope,
        });
        if let Some(fields) = operation.body {
            let properties: Map<String, Value> =
                fields.iter().map(|(name, kind, _)| (name.to_string(), json!({ "type": kind }))).collect();
            let required: Vec<&str> =
                fields.iter().filter(|(_, _, required)| *required).map(|(name, _, _)| *name).collect();
            entry["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": {
                "type": "object", "properties": properties, "required": required, "additionalProperties": false,
            }}}});
        }
        paths.entry(operation.path.to_owned()).or_insert_with(|| json!({}))[operation.method] = entry;
    }
    json!({
        "openapi": "3.0.3",
        "info": { "title": "claimflow management API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Kinde-compatible management API; workflows, deployments and runs are claimflow's own." },
        "servers": [{ "url": format!("{issuer}/api/v1") }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": format!("An access token from {issuer}/oauth2/token (client_credentials) with audience {issuer}/api") } },
            "schemas": {
                "success": { "type": "object", "properties": { "code": { "type": "string" }, "message": { "type": "string" } } },
                "error": { "type": "object", "required": ["errors"], "properties": { "errors": { "type": "array", "items": {
                    "type": "object", "required": ["code", "message"],
                    "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } } },
            },
        },
    })
}
