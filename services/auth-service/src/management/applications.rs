//! `/api/v1/applications`: OAuth clients. A client secret is returned once, at creation.

use axum::extract::{Path, State};
use claimflow_storage::{
    entity::application::{self, AppType},
    UrlChange,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{paginate, reply, Answer, ApiError, ApiJson, ApiQuery, BadRequest, Conflict, Done, NotFound, Page, Reply};
use crate::{secrets, AppState};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApplication {
    #[schema(max_length = 256)]
    name: String,
    /// `m2m`, `reg` or `spa`.
    #[serde(rename = "type")]
    #[schema(max_length = 32)]
    app_type: String,
    /// Kinde's org-scoped M2M applications; not supported yet.
    #[serde(default)]
    #[schema(max_length = 128)]
    org_code: Option<String>,
}

/// The application, or a 404 naming it.
async fn existing(state: &AppState, id: &str) -> Result<application::Model, ApiError> {
    state.store.find_application(id).await?.ok_or_else(|| ApiError::not_found("application", id))
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationView {
    id: String,
    /// The same as `id`.
    client_id: String,
    name: String,
    /// `m2m`, `reg` or `spa`.
    #[serde(rename = "type")]
    app_type: &'static str,
    /// claimflow's own: people may create an account on its sign-in page.
    allow_signup: bool,
}

impl From<&application::Model> for ApplicationView {
    fn from(application: &application::Model) -> Self {
        Self {
            id: application.id.clone(),
            client_id: application.id.clone(),
            name: application.name.clone(),
            app_type: application.app_type.as_str(),
            allow_signup: application.allow_signup,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationList {
    applications: Vec<ApplicationView>,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/applications", summary = "List applications", params(Page),
    security(("bearer" = ["read:applications"])), responses((status = 200, body = Reply<ApplicationList>), BadRequest))]
pub async fn list(State(state): State<AppState>, ApiQuery(page): ApiQuery<Page>) -> Answer<ApplicationList> {
    let applications: Vec<ApplicationView> =
        state.store.list_applications().await?.iter().map(ApplicationView::from).collect();
    let (applications, next_token) = paginate(applications, &page, |application| &application.id);
    reply("OK", "Success", ApplicationList { applications, next_token })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApplication {
    #[schema(max_length = 256)]
    name: Option<String>,
    /// claimflow's own: let people create an account on the sign-in page (`prompt=create`, and
    /// a link on the login page). Off for a new application.
    allow_signup: Option<bool>,
}

#[utoipa::path(patch, path = "/applications/{application_id}", summary = "Update an application",
    request_body = UpdateApplication, security(("bearer" = ["update:applications"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn update(
    State(state): State<AppState>,
    Path(application_id): Path<String>,
    ApiJson(body): ApiJson<UpdateApplication>,
) -> Answer<Done> {
    existing(&state, &application_id).await?;
    if let Some(name) = body.name {
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
        }
        state.store.rename_application(&application_id, name.trim()).await?;
    }
    if let Some(allow) = body.allow_signup {
        state.store.set_allow_signup(&application_id, allow).await?;
    }
    reply("OK", "Application updated", Done {})
}

#[utoipa::path(delete, path = "/applications/{application_id}", summary = "Delete an application",
    security(("bearer" = ["delete:applications"])), responses((status = 200, body = Reply<Done>), NotFound, Conflict))]
pub async fn delete(State(state): State<AppState>, Path(application_id): Path<String>) -> Answer<Done> {
    if application_id == state.config.admin.client_id {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "CONFLICT",
            "the admin application (CLAIMFLOW_ADMIN_CLIENT_ID) cannot be deleted",
        ));
    }
    state.store.delete_application(&application_id).await?;
    reply("APPLICATION_DELETED", "Application deleted", Done {})
}

#[derive(Serialize, ToSchema)]
pub struct NewApplication {
    id: String,
    client_id: String,
    /// Returned only here; `null` for a single-page application.
    client_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApplication {
    application: NewApplication,
}

#[utoipa::path(post, path = "/applications", summary = "Create an application (the client secret is returned once)",
    request_body = CreateApplication, security(("bearer" = ["create:applications"])),
    responses((status = 200, body = Reply<CreatedApplication>), BadRequest))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateApplication>,
) -> Answer<CreatedApplication> {
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
    }
    if body.org_code.is_some() {
        return Err(ApiError::bad_request(
            "INVALID_ORG_CODE",
            "org_code (org-scoped M2M applications) is not supported yet",
        ));
    }
    // A single-page application is a public client: it has no secret (PKCE instead).
    let app_type = AppType::parse(&body.app_type).ok_or_else(|| {
        ApiError::bad_request(
            "INVALID_TYPE",
            format!("type {:?} is not supported; use \"m2m\", \"reg\" or \"spa\"", body.app_type),
        )
    })?;
    let secret = match app_type {
        AppType::M2m | AppType::Reg => Some(secrets::new_client_secret()),
        AppType::Spa => None,
    };
    let application =
        state.store.create_application(body.name.trim(), app_type, secret.as_deref().map(secrets::hash_secret)).await?;
    reply(
        "APPLICATION_CREATED",
        "Application created",
        CreatedApplication {
            application: NewApplication {
                id: application.id.clone(),
                client_id: application.id,
                client_secret: secret,
            },
        },
    )
}

#[derive(Serialize, ToSchema)]
pub struct OneApplication {
    application: ApplicationView,
}

#[utoipa::path(get, path = "/applications/{application_id}", summary = "Get an application",
    security(("bearer" = ["read:applications"])), responses((status = 200, body = Reply<OneApplication>), NotFound))]
pub async fn get_one(State(state): State<AppState>, Path(application_id): Path<String>) -> Answer<OneApplication> {
    let application = existing(&state, &application_id).await?;
    reply("OK", "success_response", OneApplication { application: ApplicationView::from(&application) })
}

/// A property with one holder's value (an application's, a user's).
#[derive(Serialize, ToSchema, Clone)]
pub struct PropertyView {
    id: String,
    key: String,
    name: String,
    description: String,
    value: String,
}

impl PropertyView {
    pub(super) fn new(property: claimflow_storage::entity::property::Model, value: String) -> Self {
        Self { id: property.id, key: property.key, name: property.name, description: property.description, value }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PropertyList {
    properties: Vec<PropertyView>,
    /// The same list, under the name older Kinde docs read.
    #[serde(rename = "appProperties")]
    app_properties: Vec<PropertyView>,
}

/// Kinde's `{properties: [...]}`; older Kinde docs read `appProperties` from the same answer.
#[utoipa::path(get, path = "/applications/{application_id}/properties", summary = "An application's property values",
    security(("bearer" = ["read:application_properties"])),
    responses((status = 200, body = Reply<PropertyList>), NotFound))]
pub async fn list_properties(
    State(state): State<AppState>,
    Path(application_id): Path<String>,
) -> Answer<PropertyList> {
    existing(&state, &application_id).await?;
    let properties: Vec<PropertyView> = state
        .store
        .application_properties(&application_id)
        .await?
        .into_iter()
        .map(|p| PropertyView::new(p.property, p.value))
        .collect();
    reply("OK", "Success", PropertyList { app_properties: properties.clone(), properties })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertyValue {
    /// A string, number or boolean; stored as text.
    value: Value,
}

#[utoipa::path(put, path = "/applications/{application_id}/properties/{property_key}",
    summary = "Set an application's property value", request_body = PropertyValue,
    security(("bearer" = ["update:application_properties"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound, Conflict))]
pub async fn set_property(
    State(state): State<AppState>,
    Path((application_id, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<PropertyValue>,
) -> Answer<Done> {
    let value = match body.value {
        Value::String(text) => text,
        Value::Number(_) | Value::Bool(_) => body.value.to_string(),
        _ => return Err(ApiError::bad_request("INVALID_VALUE", "value must be a string, number or boolean")),
    };
    state.store.set_application_property(&application_id, &key, &value).await?;
    reply("OK", "Success", Done {})
}

/// Kinde's token settings, plus `token_properties`: the property keys whose values go into the
/// application's tokens as `application_properties`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// Seconds, between 60 and 31536000.
    access_token_lifetime: Option<i64>,
    refresh_token_lifetime: Option<i64>,
    id_token_lifetime: Option<i64>,
    authenticated_session_lifetime: Option<i64>,
    is_hasura_mapping_enabled: Option<bool>,
    token_properties: Option<Vec<String>>,
}

#[utoipa::path(patch, path = "/applications/{application_id}/tokens",
    summary = "Token settings, including token_properties", request_body = TokenSettings,
    security(("bearer" = ["update:applications"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn update_tokens(
    State(state): State<AppState>,
    Path(application_id): Path<String>,
    ApiJson(body): ApiJson<TokenSettings>,
) -> Answer<Done> {
    existing(&state, &application_id).await?;
    // Accepted for compatibility with Kinde clients; claimflow has no user sessions or
    // Hasura mapping yet, so only the access token lifetime and token properties apply.
    let _ = (
        body.refresh_token_lifetime,
        body.id_token_lifetime,
        body.authenticated_session_lifetime,
        body.is_hasura_mapping_enabled,
    );
    if let Some(lifetime) = body.access_token_lifetime {
        if !(60..=31_536_000).contains(&lifetime) {
            return Err(ApiError::bad_request(
                "INVALID_LIFETIME",
                "access_token_lifetime must be between 60 and 31536000 seconds",
            ));
        }
        state.store.set_access_token_lifetime(&application_id, Some(lifetime)).await?;
    }
    if let Some(keys) = &body.token_properties {
        state.store.set_token_properties(&application_id, keys).await?;
    }
    reply("OK", "Application tokens updated", Done {})
}

#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    client_id: String,
    client_secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct RotatedApplication {
    application: RotatedSecret,
}

/// A new client secret, returned once; the old one stops working at once.
#[utoipa::path(post, path = "/applications/{application_id}/rotate_secret",
    summary = "Rotate the client secret (returned once)", security(("bearer" = ["update:applications"])),
    responses((status = 200, body = Reply<RotatedApplication>), BadRequest, NotFound, Conflict))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Path(application_id): Path<String>,
) -> Answer<RotatedApplication> {
    let application = existing(&state, &application_id).await?;
    if application.app_type == AppType::Spa {
        return Err(ApiError::bad_request("PUBLIC_CLIENT", "a single-page application has no client secret"));
    }
    if application_id == state.config.admin.client_id {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "CONFLICT",
            "the admin application's secret comes from CLAIMFLOW_ADMIN_CLIENT_SECRET",
        ));
    }
    let secret = secrets::new_client_secret();
    state.store.set_client_secret_hash(&application_id, &secrets::hash_secret(&secret)).await?;
    reply(
        "OK",
        "Client secret rotated",
        RotatedApplication { application: RotatedSecret { client_id: application_id, client_secret: secret } },
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Urls {
    urls: Vec<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UrlsToRemove {
    /// Comma-separated, as Kinde takes them.
    urls: String,
}

/// A redirect or logout URL: absolute, http(s), no fragment; plain http only for loopback.
fn validate_urls(urls: &[String]) -> Result<(), ApiError> {
    for (index, raw) in urls.iter().enumerate() {
        let field = format!("urls[{index}]");
        let url = url::Url::parse(raw)
            .map_err(|err| ApiError::bad_request("INVALID_URL", format!("{field} {raw:?}: {err}")))?;
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        if !scheme_ok || url.fragment().is_some() {
            return Err(ApiError::bad_request(
                "INVALID_URL",
                format!("{field} {raw:?} must be https (http only for localhost) and have no #fragment"),
            ));
        }
    }
    Ok(())
}

// `auth_redirect_urls` (`redirect`) and `auth_logout_urls` (`logout`), Kinde's shapes: the
// handlers of both share the helpers below and differ only in the kind.

/// An existing application's URLs of `kind`, sorted.
async fn urls_of(state: &AppState, app_id: &str, kind: &str) -> Result<Vec<String>, ApiError> {
    existing(state, app_id).await?;
    Ok(state.store.application_urls(app_id, kind).await?)
}

/// Adds or replaces an application's URLs of `kind`, each validated.
async fn change_urls(state: &AppState, app_id: &str, kind: &str, body: Urls, change: UrlChange) -> Answer<Done> {
    validate_urls(&body.urls)?;
    state.store.change_application_urls(app_id, kind, &body.urls, change).await?;
    reply("OK", "Success", Done {})
}

/// Removes the comma-separated `urls` from an application's URLs of `kind`.
async fn remove_urls(state: &AppState, app_id: &str, kind: &str, query: UrlsToRemove) -> Answer<Done> {
    let urls: Vec<String> = query.urls.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect();
    state.store.change_application_urls(app_id, kind, &urls, UrlChange::Remove).await?;
    reply("OK", "Success", Done {})
}

#[derive(Serialize, ToSchema)]
pub struct RedirectUrls {
    redirect_urls: Vec<String>,
}

#[utoipa::path(get, path = "/applications/{app_id}/auth_redirect_urls", summary = "Redirect URLs",
    security(("bearer" = ["read:applications"])), responses((status = 200, body = Reply<RedirectUrls>), NotFound))]
pub async fn list_redirect_urls(State(state): State<AppState>, Path(app_id): Path<String>) -> Answer<RedirectUrls> {
    reply("OK", "Success", RedirectUrls { redirect_urls: urls_of(&state, &app_id, "redirect").await? })
}

#[utoipa::path(post, path = "/applications/{app_id}/auth_redirect_urls", summary = "Add redirect URLs",
    request_body = Urls, security(("bearer" = ["update:applications"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn add_redirect_urls(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    ApiJson(body): ApiJson<Urls>,
) -> Answer<Done> {
    change_urls(&state, &app_id, "redirect", body, UrlChange::Add).await
}

#[utoipa::path(put, path = "/applications/{app_id}/auth_redirect_urls", summary = "Replace redirect URLs",
    request_body = Urls, security(("bearer" = ["update:applications"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn replace_redirect_urls(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    ApiJson(body): ApiJson<Urls>,
) -> Answer<Done> {
    change_urls(&state, &app_id, "redirect", body, UrlChange::Replace).await
}

#[utoipa::path(delete, path = "/applications/{app_id}/auth_redirect_urls", summary = "Remove redirect URLs",
    params(UrlsToRemove), security(("bearer" = ["update:applications"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn remove_redirect_urls(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    ApiQuery(query): ApiQuery<UrlsToRemove>,
) -> Answer<Done> {
    remove_urls(&state, &app_id, "redirect", query).await
}

#[derive(Serialize, ToSchema)]
pub struct LogoutUrls {
    logout_urls: Vec<String>,
}

#[utoipa::path(get, path = "/applications/{app_id}/auth_logout_urls", summary = "Logout URLs",
    security(("bearer" = ["read:applications"])), responses((status = 200, body = Reply<LogoutUrls>), NotFound))]
pub async fn list_logout_urls(State(state): State<AppState>, Path(app_id): Path<String>) -> Answer<LogoutUrls> {
    reply("OK", "Success", LogoutUrls { logout_urls: urls_of(&state, &app_id, "logout").await? })
}

#[utoipa::path(post, path = "/applications/{app_id}/auth_logout_urls", summary = "Add logout URLs",
    request_body = Urls, security(("bearer" = ["update:applications"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn add_logout_urls(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    ApiJson(body): ApiJson<Urls>,
) -> Answer<Done> {
    change_urls(&state, &app_id, "logout", body, UrlChange::Add).await
}

#[utoipa::path(put, path = "/applications/{app_id}/auth_logout_urls", summary = "Replace logout URLs",
    request_body = Urls, security(("bearer" = ["update:applications"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn replace_logout_urls(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    ApiJson(body): ApiJson<Urls>,
) -> Answer<Done> {
    change_urls(&state, &app_id, "logout", body, UrlChange::Replace).await
}

#[utoipa::path(delete, path = "/applications/{app_id}/auth_logout_urls", summary = "Remove logout URLs",
    params(UrlsToRemove), security(("bearer" = ["update:applications"])),
    responses((status = 200, body = Reply<Done>), BadRequest, NotFound))]
pub async fn remove_logout_urls(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    ApiQuery(query): ApiQuery<UrlsToRemove>,
) -> Answer<Done> {
    remove_urls(&state, &app_id, "logout", query).await
}
