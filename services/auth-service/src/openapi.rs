//! The management API's OpenAPI document, served at `/api/v1/openapi.json`. Each operation is
//! declared once, by `#[utoipa::path]` on its handler; this module adds what every operation
//! shares (the bearer scheme, 401 and 403, the server) and reads the scope an operation needs.

use utoipa::openapi::{
    path::{Operation, PathItem},
    security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    OpenApi, Ref, RefOr, ResponseBuilder, ServerBuilder,
};

/// The name of the bearer security scheme the operations' `security(...)` refer to.
pub const BEARER: &str = "bearer";

/// Completes the generated document for `issuer`; failures answer with the `error_schema`.
pub fn complete(document: &mut OpenApi, issuer: &str, error_schema: &str) {
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
                                .schema(Some(Ref::from_schema_name(error_schema)))
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
