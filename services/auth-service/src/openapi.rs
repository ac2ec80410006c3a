//! The management API's OpenAPI document, served at `/api/v1/openapi.json`. Each operation is
//! declared once, by `#[utoipa::path]` on its handler; this module adds what every operation
//! shares (the bearer scheme, 401 and 403, the server) and reads the scope an operation needs.

use utoipa::openapi::{
    path::{Operation, PathItem},
    security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    OpenApi, Ref, RefOr, ResponseBuilder, ServerBuilder,
};

use crate::management::ErrorBody;

/// The name of the bearer security scheme the operations' `security(...)` refer to.
pub const BEARER: &str = "bearer";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "claimflow management API",
        description = "Kinde-compatible management API; workflows, deployments and runs are claimflow's own."
    ),
    components(schemas(ErrorBody))
)]
pub struct ApiDoc;

/// Completes the generated document for `issuer`.
pub fn complete(document: &mut OpenApi, issuer: &str) {
    document.servers = Some(vec![ServerBuilder::new().url(format!("{issuer}/api/v1")).build()]);
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(format!(
                    "An access token from {issuer}/oauth2/token (client_credentials) with audience {issuer}/api"
                )))
                .build(),
        ),
    );
    for (path, item) in document.paths.paths.iter_mut() {
        for (method, operation) in operations_mut(item) {
            // Handlers in different modules share names (`list`, `delete`): the id is the route's.
            operation.operation_id = Some(format!("{method}{}", path.replace(['/', '{', '}'], "_")));
            if let Some(RefOr::T(success)) = operation.responses.responses.get_mut("200") {
                if success.description.is_empty() {
                    success.description = "Success".into();
                }
            }
            let error = |description: &str| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            utoipa::openapi::ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build(),
                )
            };
            let responses = &mut operation.responses.responses;
            responses.insert("401".into(), error("No valid bearer token for the management API"));
            responses.insert("403".into(), error("The token lacks the scope this operation needs"));
        }
    }
}

/// The scope an operation's `security(("bearer" = [scope]))` names.
pub fn required_scope(operation: &Operation) -> Option<String> {
    let requirements = serde_json::to_value(operation.security.as_ref()?).ok()?;
    requirements.as_array()?.iter().find_map(|requirement| requirement.get(BEARER)?.get(0)?.as_str().map(str::to_owned))
}

/// An item's operations with their lower-case methods.
pub fn operations(item: &PathItem) -> impl Iterator<Item = (&'static str, &Operation)> {
    [
        ("get", &item.get),
        ("put", &item.put),
        ("post", &item.post),
        ("delete", &item.delete),
        ("patch", &item.patch),
        ("head", &item.head),
        ("options", &item.options),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_ref().map(|operation| (method, operation)))
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("patch", &mut item.patch),
        ("head", &mut item.head),
        ("options", &mut item.options),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(crate::management::ManagementApi::new("https://id.example.com").document()).unwrap()
    }

    #[test]
    fn every_operation_declares_its_scope_path_parameters_and_shared_failures() {
        let document = document();
        std::fs::write("/tmp/openapi.json", serde_json::to_string_pretty(&document).unwrap()).ok();
        assert_eq!(document["servers"][0]["url"], "https://id.example.com/api/v1");
        let mut operations = 0;
        let mut ids = std::collections::HashSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            let placeholders: Vec<&str> =
                path.split('/').filter_map(|part| part.strip_prefix('{')?.strip_suffix('}')).collect();
            for (method, operation) in item.as_object().unwrap() {
                let scope = operation["security"][0]["bearer"][0].as_str().unwrap_or_default();
                assert!(scope.contains(':'), "{method} {path} declares no scope: {operation}");
                let declared: Vec<&str> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|parameter| parameter["in"] == "path")
                    .map(|parameter| parameter["name"].as_str().unwrap())
                    .collect();
                assert_eq!(declared, placeholders, "{method} {path} documents its path parameters");
                for status in ["200", "401", "403"] {
                    assert!(operation["responses"][status].is_object(), "{method} {path} documents {status}");
                }
                let success = &operation["responses"]["200"]["content"]["application/json"]["schema"];
                assert!(!success.is_null(), "{method} {path} documents its answer's shape");
                assert!(ids.insert(operation["operationId"].to_string()), "{method} {path}: operationId repeated");
                operations += 1;
            }
        }
        assert!(operations >= 8, "{operations} operations");
    }
}
