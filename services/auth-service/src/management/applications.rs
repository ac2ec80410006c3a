//! `/api/v1/applications`: OAuth clients. A client secret is returned once, at creation.

use axum::extract::{Path, State};
use claimflow_storage::entity::application::AppType;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, paginate, ApiError, ApiJson, ApiQuery, Caller, Page};
use crate::{secrets, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApplication {
    name: String,
    #[serde(rename = "type")]
    app_type: String,
    /// Kinde's org-scoped M2M applications; not supported yet.
    #[serde(default)]
    org_code: Option<String>,
}

/// The application, or a 404 naming it.
async fn existing(state: &AppState, id: &str) -> Result<claimflow_storage::entity::application::Model, ApiError> {
    state.store.find_application(id).await?.ok_or_else(|| ApiError::not_found("application", id))
}

fn describe(application: &claimflow_storage::entity::application::Model) -> Value {
    json!({ "id": application.id, "client_id": application.id, "name": application.name, "type": application.app_type.as_str() })
}

pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:applications")?;
    let applications: Vec<Value> = state.store.list_applications().await?.iter().map(describe).collect();
    let (applications, next_token) = paginate(applications, &page);
    Ok(ok("OK", "Success", json!({ "applications": applications, "next_token": next_token })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateApplication {
    name: Option<String>,
}

pub async fn update(
    caller: Caller,
    State(state): State<AppState>,
    Path(application_id): Path<String>,
    ApiJson(body): ApiJson<UpdateApplication>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:applications")?;
    existing(&state, &application_id).await?;
    if let Some(name) = body.name {
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("INVALID_NAME", "name must not be empty"));
        }
        state.store.rename_application(&application_id, name.trim()).await?;
    }
    Ok(ok("OK", "Application updated", json!({})))
}

pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    Path(application_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("delete:applications")?;
    if application_id == state.config.admin.client_id {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "CONFLICT",
            "the admin application (CLAIMFLOW_ADMIN_CLIENT_ID) cannot be deleted",
        ));
    }
    state.store.delete_application(&application_id).await?;
    Ok(ok("APPLICATION_DELETED", "Application deleted", json!({})))
}

pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateApplication>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("create:applications")?;
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
    Ok(ok(
        "APPLICATION_CREATED",
        "Application created",
        json!({ "application": {
            "id": application.id, "client_id": application.id, "client_secret": secret,
        }}),
    ))
}

pub async fn get_one(
    caller: Caller,
    State(state): State<AppState>,
    Path(application_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:applications")?;
    let application = existing(&state, &application_id).await?;
    Ok(ok("OK", "success_response", json!({ "application": describe(&application) })))
}

/// Kinde's `{properties: [...]}`; older Kinde docs read `appProperties` from the same answer.
pub async fn list_properties(
    caller: Caller,
    State(state): State<AppState>,
    Path(application_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:application_properties")?;
    existing(&state, &application_id).await?;
    let properties: Vec<Value> = state
        .store
        .application_properties(&application_id)
        .await?
        .into_iter()
        .map(|p| json!({ "id": p.property.id, "key": p.property.key, "name": p.property.name, "description": p.property.description, "value": p.value }))
        .collect();
    Ok(ok("OK", "Success", json!({ "properties": properties, "appProperties": properties })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyValue {
    value: Value,
}

pub async fn set_property(
    caller: Caller,
    State(state): State<AppState>,
    Path((application_id, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<PropertyValue>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:application_properties")?;
    let value = match body.value {
        Value::String(text) => text,
        Value::Number(_) | Value::Bool(_) => body.value.to_string(),
        _ => return Err(ApiError::bad_request("INVALID_VALUE", "value must be a string, number or boolean")),
    };
    state.store.set_application_property(&application_id, &key, &value).await?;
    Ok(ok("OK", "Success", json!({})))
}

/// Kinde's token settings, plus `token_properties`: the property keys whose values go into the
/// application's tokens as `application_properties`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    access_token_lifetime: Option<i64>,
    refresh_token_lifetime: Option<i64>,
    id_token_lifetime: Option<i64>,
    authenticated_session_lifetime: Option<i64>,
    is_hasura_mapping_enabled: Option<bool>,
    token_properties: Option<Vec<String>>,
}

pub async fn update_tokens(
    caller: Caller,
    State(state): State<AppState>,
    Path(application_id): Path<String>,
    ApiJson(body): ApiJson<TokenSettings>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:applications")?;
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
    Ok(ok("OK", "Application tokens updated", json!({})))
}

/// A new client secret, returned once; the old one stops working at once.
pub async fn rotate_secret(
    caller: Caller,
    State(state): State<AppState>,
    Path(application_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("update:applications")?;
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
    Ok(ok(
        "OK",
        "Client secret rotated",
        json!({ "application": { "client_id": application_id, "client_secret": secret } }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Urls {
    urls: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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

/// `auth_redirect_urls` (`redirect`) and `auth_logout_urls` (`logout`), Kinde's shapes.
pub fn url_routes(kind: &'static str, field: &'static str) -> axum::routing::MethodRouter<AppState> {
    use axum::routing::get;
    let change = move |change: claimflow_storage::UrlChange| {
        move |caller: Caller,
              State(state): State<AppState>,
              Path(app_id): Path<String>,
              ApiJson(body): ApiJson<Urls>| async move {
            caller.require("update:applications")?;
            validate_urls(&body.urls)?;
            state.store.change_application_urls(&app_id, kind, &body.urls, change).await?;
            Ok::<_, ApiError>(ok("OK", "Success", json!({})))
        }
    };
    get(move |caller: Caller, State(state): State<AppState>, Path(app_id): Path<String>| async move {
        caller.require("read:applications")?;
        existing(&state, &app_id).await?;
        let urls = state.store.application_urls(&app_id, kind).await?;
        Ok::<_, ApiError>(ok("OK", "Success", json!({ field: urls })))
    })
    .post(change(claimflow_storage::UrlChange::Add))
    .put(change(claimflow_storage::UrlChange::Replace))
    .delete(
        move |caller: Caller,
              State(state): State<AppState>,
              Path(app_id): Path<String>,
              ApiQuery(query): ApiQuery<UrlsToRemove>| async move {
            caller.require("update:applications")?;
            let urls: Vec<String> =
                query.urls.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect();
            state.store.change_application_urls(&app_id, kind, &urls, claimflow_storage::UrlChange::Remove).await?;
            Ok::<_, ApiError>(ok("OK", "Success", json!({})))
        },
    )
}
