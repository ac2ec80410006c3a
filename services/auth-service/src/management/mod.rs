//! The management API under `/api/v1`, with Kinde's paths and JSON shapes.
//!
//! Every route needs a bearer token issued for the management API's audience (`<issuer>/api`)
//! carrying the route's scope. Errors are `{"errors": [{"code", "message"}]}` as in Kinde, and a
//! message names the field at fault.

mod apis;
mod applications;
mod audit;
mod connections;
mod environment_variables;
mod limits;
mod mfa;
mod organization_members;
mod organizations;
mod properties;
mod signing_keys;
mod user_properties;
mod users;
mod workflows;

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{rejection::JsonRejection, FromRequest, FromRequestParts, Request, State},
    http::{request::Parts, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::de::DeserializeOwned;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{jwks::Rejection, AppState};

/// The management API: its routes, and the OpenAPI document generated from the same
/// `#[utoipa::path]` declarations, whose `security` also decides which scope each route needs.
pub struct ManagementApi {
    router: Router<AppState>,
    document: utoipa::openapi::OpenApi,
    scopes: RouteScopes,
}

impl ManagementApi {
    pub fn new(issuer: &str) -> Self {
        let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .routes(routes!(apis::list, apis::create))
            .routes(routes!(apis::get_one, apis::delete))
            .routes(routes!(apis::update_applications))
            .routes(routes!(apis::list_scopes, apis::create_scope))
            .routes(routes!(apis::grant_scope))
            .routes(routes!(applications::list, applications::create))
            .routes(routes!(applications::get_one, applications::update, applications::delete))
            .routes(routes!(applications::rotate_secret))
            .routes(routes!(
                applications::list_redirect_urls,
                applications::add_redirect_urls,
                applications::replace_redirect_urls,
                applications::remove_redirect_urls
            ))
            .routes(routes!(
                applications::list_logout_urls,
                applications::add_logout_urls,
                applications::replace_logout_urls,
                applications::remove_logout_urls
            ))
            .routes(routes!(applications::list_properties))
            .routes(routes!(applications::set_property))
            .routes(routes!(applications::update_tokens))
            .routes(routes!(organization_members::organization_users, organization_members::add_organization_users))
            .routes(routes!(organization_members::remove_organization_user))
            .routes(routes!(organization_members::member_roles, organization_members::add_member_role))
            .routes(routes!(organization_members::remove_member_role))
            .routes(routes!(organization_members::member_permissions))
            .routes(routes!(organization_members::organization_properties))
            .routes(routes!(organization_members::set_organization_property))
            .routes(routes!(users::get_user, users::create_user, users::delete_user))
            .routes(routes!(users::list_users))
            .routes(routes!(users::set_password))
            .routes(routes!(user_properties::list, user_properties::update))
            .routes(routes!(user_properties::set))
            .routes(routes!(users::list_roles, users::create_role))
            .routes(routes!(users::role_permissions, users::update_role_permissions))
            .routes(routes!(users::list_permissions, users::create_permission))
            .routes(routes!(users::create_feature_flag))
            .routes(routes!(users::environment_feature_flags))
            .routes(routes!(properties::list, properties::create))
            .routes(routes!(properties::update, properties::delete))
            .routes(routes!(organizations::get_one, organizations::create))
            .routes(routes!(organizations::update, organizations::delete))
            .routes(routes!(organizations::list))
            .routes(routes!(environment_variables::list, environment_variables::create))
            .routes(routes!(
                environment_variables::get_one,
                environment_variables::update,
                environment_variables::delete
            ))
            .routes(routes!(workflows::list))
            .routes(routes!(workflows::deploy))
            .routes(routes!(workflows::list_runs))
            .routes(routes!(workflows::get_run))
            .routes(routes!(workflows::delete))
            .routes(routes!(workflows::rollback))
            .routes(routes!(audit::list_tokens))
            .routes(routes!(connections::list))
            .routes(routes!(connections::get_one))
            .routes(routes!(signing_keys::list))
            .routes(routes!(signing_keys::rotate))
            .routes(routes!(signing_keys::revoke))
            .routes(routes!(mfa::get_environment, mfa::set_environment))
            .routes(routes!(mfa::get_organization, mfa::set_organization))
            .routes(routes!(mfa::reset_user))
            .split_for_parts();
        crate::openapi::complete(&mut document, issuer, &ErrorBody::name());
        let scopes = RouteScopes::of(&document);
        Self { router, document, scopes }
    }

    /// Every scope a route of the API needs, sorted: the scopes the management API offers.
    pub fn scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> = self.scopes.0.values().cloned().collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }

    #[cfg(test)]
    pub fn document(&self) -> &utoipa::openapi::OpenApi {
        &self.document
    }

    /// The routes, each behind its scope, and `/openapi.json` for anyone.
    pub fn into_router(self, state: AppState) -> Router<AppState> {
        let guard = Guard { state, scopes: Arc::new(self.scopes) };
        // NOTE: the document never changes: serialized once, not per request.
        let document = bytes::Bytes::from(serde_json::to_vec(&self.document).unwrap_or_default());
        let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
        self.router
            .route_layer(axum::middleware::from_fn_with_state(guard, authorize))
            .route("/openapi.json", get(move || async move { (json, document.clone()) }))
            // NOTE: Kinde's billing routes, to anyone: claimflow has no billing, and says so.
            .route("/billing", axum::routing::any(|| async { users::billing_is_not_part_of_claimflow() }))
            .route("/billing/{*rest}", axum::routing::any(|| async { users::billing_is_not_part_of_claimflow() }))
            .fallback(|| async {
                ApiError::new(StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND", "the requested API route does not exist")
            })
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "claimflow management API",
        description = "Kinde-compatible management API; workflows, deployments and runs are claimflow's own. \
            Billing is not part of claimflow: `billing/*` routes and `expand=billing` answer 404 \
            `BILLING_NOT_SUPPORTED`."
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// The scope each operation of the document requires, by method and path.
struct RouteScopes(HashMap<(String, String), String>);

impl RouteScopes {
    fn of(document: &utoipa::openapi::OpenApi) -> Self {
        let mut scopes = HashMap::new();
        for (path, item) in &document.paths.paths {
            for (method, operation) in crate::openapi::operations(item) {
                if let Some(scope) = crate::openapi::required_scope(operation) {
                    scopes.insert((method.to_owned(), path.clone()), scope);
                }
            }
        }
        Self(scopes)
    }

    fn for_request(&self, request: &Request) -> Option<&str> {
        let matched = request.extensions().get::<axum::extract::MatchedPath>()?.as_str();
        let path = matched.strip_prefix("/api/v1").unwrap_or(matched);
        let method = request.method().as_str().to_ascii_lowercase();
        self.0.get(&(method, path.to_owned())).map(String::as_str)
    }
}

#[derive(Clone)]
struct Guard {
    state: AppState,
    scopes: Arc<RouteScopes>,
}

/// Every management route: a valid management token carrying the route's scope, checked
/// before the body or query is read (a caller without the scope learns nothing about what the
/// route would accept). A route that declares no scope is refused: the check fails closed.
async fn authorize(State(guard): State<Guard>, mut request: Request, next: axum::middleware::Next) -> Response {
    let caller = match Caller::authenticate(request.headers(), &guard.state).await {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    let Some(scope) = guard.scopes.for_request(&request) else {
        return ApiError::internal(format!("{} {} declares no scope", request.method(), request.uri().path()))
            .into_response();
    };
    if let Err(err) = caller.require(scope) {
        return err.into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// After a successful change (any method but GET and HEAD), every replica's token-path caches
/// are emptied, so the next token request sees the change.
pub async fn announce_changes(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let changes = !matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    let response = next.run(request).await;
    if changes && response.status().is_success() {
        state.announce_change().await;
    }
    response
}

/// A management API error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("{what} {id} does not exist"))
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(%err, "management API failure");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "internal error; see the auth-service log")
    }
}

impl From<claimflow_storage::StorageError> for ApiError {
    fn from(err: claimflow_storage::StorageError) -> Self {
        use claimflow_storage::StorageError;
        match err {
            StorageError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "CONFLICT", message),
            StorageError::NotFound { what, id } => ApiError::not_found(what, &id),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { errors: vec![ErrorItem { code: self.code.to_owned(), message: self.message }] };
        (self.status, Json(body)).into_response()
    }
}

/// A JSON body whose rejections (malformed JSON, unknown or missing fields) are [`ApiError`]s
/// naming the problem.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + ToSchema, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let rejected = |rejection: JsonRejection| match rejection {
            JsonRejection::JsonDataError(err) => ApiError::bad_request("INVALID_BODY", err.body_text()),
            JsonRejection::JsonSyntaxError(err) => ApiError::bad_request("INVALID_JSON", err.body_text()),
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "INVALID_CONTENT_TYPE",
                "send the body as application/json",
            ),
            other => ApiError::bad_request("INVALID_BODY", other.body_text()),
        };
        let Json(body) = Json::<serde_json::Value>::from_request(req, state).await.map_err(rejected)?;
        let text = body.to_string();
        let Json(value) = Json::<T>::from_bytes(text.as_bytes()).map_err(rejected)?;
        limits::check::<T>(&body).map_err(|message| ApiError::bad_request("INVALID_LENGTH", message))?;
        Ok(ApiJson(value))
    }
}

/// Query parameters whose rejections (unknown or malformed parameters) are [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::bad_request("INVALID_QUERY", rejection.body_text()))
    }
}

/// The caller of a management route: an application holding a valid management token.
#[derive(Clone)]
pub struct Caller {
    pub client_id: String,
    scopes: Vec<String>,
}

impl Caller {
    /// 403 naming the scope when the token lacks it.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.iter().any(|granted| granted == scope) {
            tracing::debug!(client_id = %self.client_id, scope, "management call authorized");
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_SCOPE",
                format!("this route needs the scope {scope}"),
            ))
        }
    }
}

impl Caller {
    /// The application whose bearer token is a valid management token.
    async fn authenticate(headers: &axum::http::HeaderMap, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
        let token = crate::jwks::bearer_token(headers)
            .ok_or_else(|| unauthorized("a bearer token for the management API is required"))?;
        let audience = state.config.management_audience();
        let claims =
            state.jwks.verify(token, &state.config.issuer, Some(&audience)).await.map_err(
                |rejection| match rejection {
                    Rejection::NotJwt => unauthorized("the bearer token is not a JWT"),
                    Rejection::NoKid => unauthorized("the bearer token has no kid"),
                    Rejection::UnknownKey => unauthorized("the bearer token was not signed by this issuer"),
                    Rejection::Keys(err) => ApiError::internal(err),
                    Rejection::Invalid(err) => {
                        unauthorized(&format!("the bearer token is not valid for the management API: {err}"))
                    }
                },
            )?;
        let scopes = claims
            .get("scp")
            .and_then(|scp| scp.as_array())
            .map(|scp| scp.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let client_id = claims.get("azp").and_then(|azp| azp.as_str()).unwrap_or_default().to_owned();
        Ok(Caller { client_id, scopes })
    }
}

/// The caller [`authorize`] admitted to this route.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.remove::<Caller>().ok_or_else(|| ApiError::internal("a management route outside the guard"))
    }
}

/// `page_size` / `next_token`, as Kinde's list endpoints take them.
#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    page_size: Option<u64>,
    next_token: Option<String>,
    /// Accepted for Kinde clients; lists are in id order.
    #[serde(default)]
    sort: Option<String>,
}

const DEFAULT_PAGE_SIZE: u64 = 100;
const MAX_PAGE_SIZE: u64 = 500;

/// One page of `items` in the order of their `id`, and the token of the next page.
/// (Administrative lists are small; they are paginated after loading.)
pub fn paginate<T>(mut items: Vec<T>, page: &Page, id: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
    let _ = &page.sort;
    items.sort_by(|a, b| id(a).cmp(id(b)));
    if let Some(after) = &page.next_token {
        items.retain(|item| id(item) > after.as_str());
    }
    let size = page.page_size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE) as usize;
    let next = (items.len() > size).then(|| id(&items[size - 1]).to_owned());
    items.truncate(size);
    (items, next)
}

/// Where the next page of a newest-first list starts: its `next_token` is `<ms>.<id>` of the
/// previous page's last item.
pub fn keyset_after(next_token: Option<&str>) -> Result<Option<(i64, String)>, ApiError> {
    next_token
        .map(|token| {
            token
                .split_once('.')
                .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| ApiError::bad_request("INVALID_NEXT_TOKEN", "next_token is not one this API returned"))
        })
        .transpose()
}

/// Cuts a newest-first list read with one item more than `page_size` (which tells whether
/// another page exists) and gives the next page's token.
pub fn keyset_page<T>(mut items: Vec<T>, page_size: u64, key: impl Fn(&T) -> (i64, &str)) -> (Vec<T>, Option<String>) {
    if items.len() as u64 <= page_size {
        return (items, None);
    }
    items.truncate(page_size as usize);
    let next = items.last().map(|last| {
        let (ms, id) = key(last);
        format!("{ms}.{id}")
    });
    (items, next)
}

/// A successful answer: Kinde's `code` and `message`, then the operation's own fields.
#[derive(serde::Serialize, ToSchema)]
pub struct Reply<T> {
    /// `OK`, or what happened, e.g. `API_CREATED`.
    code: &'static str,
    message: &'static str,
    #[serde(flatten)]
    body: T,
}

pub type Answer<T> = Result<Json<Reply<T>>, ApiError>;

/// `{"code", "message", ...body}`.
pub fn reply<T>(code: &'static str, message: &'static str, body: T) -> Answer<T> {
    Ok(Json(Reply { code, message, body }))
}

/// `{"id": ...}`: what a creation answers with.
#[derive(serde::Serialize, ToSchema)]
pub struct Id {
    pub id: String,
}

/// No fields besides `code` and `message`.
#[derive(serde::Serialize, ToSchema)]
pub struct Done {}

/// `{"errors": [{"code", "message"}]}`, as Kinde's management API answers a failure.
#[derive(serde::Serialize, ToSchema)]
pub struct ErrorBody {
    errors: Vec<ErrorItem>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ErrorItem {
    /// Machine-readable, e.g. `INVALID_NAME` or `NOT_FOUND`.
    code: String,
    /// Names the field or parameter at fault.
    message: String,
}

// NOTE: the failure responses below only describe failures in the OpenAPI document (hence
// never constructed); handlers answer failures with an `ApiError`.

/// Invalid request: the message names the field at fault.
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
#[response(status = 400)]
pub struct BadRequest(#[to_schema] ErrorBody);

/// Not found.
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
#[response(status = 404)]
pub struct NotFound(#[to_schema] ErrorBody);

/// Conflicts with the current state.
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
#[response(status = 409)]
pub struct Conflict(#[to_schema] ErrorBody);

/// A service this request needs is not running; try again once it is.
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
#[response(status = 503)]
pub struct Unavailable(#[to_schema] ErrorBody);

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(super::ManagementApi::new("https://id.example.com").document()).unwrap()
    }

    #[test]
    fn every_operation_declares_its_scope_path_parameters_and_shared_failures() {
        let document = document();
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
        assert!(operations >= 50, "{operations} operations");
        let schemas = &document["components"]["schemas"];
        assert_eq!(schemas["CreateApi"]["properties"]["audience"]["maxLength"], 1024, "limits are documented");
        assert_eq!(schemas["BundleFile"]["properties"]["path"]["maxLength"], 1024);
    }
}
