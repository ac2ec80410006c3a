//! `/api/v1/applications`: OAuth clients. A client secret is returned once, at creation.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, ApiError, ApiJson, Caller};
use crate::{secrets, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApplication {
    name: String,
    #[serde(rename = "type")]
    app_type: String,
}

fn describe(application: &claimflow_storage::entity::application::Model) -> Value {
    json!({ "id": application.id, "client_id": application.id, "name": application.name, "type": application.app_type })
}

pub async fn list(caller: Caller, State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:applications")?;
    let applications: Vec<Value> = state.store.list_applications().await?.iter().map(describe).collect();
    Ok(ok("OK", "Success", json!({ "applications": applications, "next_token": null })))
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
    if body.app_type != "m2m" {
        return Err(ApiError::bad_request(
            "INVALID_TYPE",
            format!("type {:?} is not supported yet; use \"m2m\"", body.app_type),
        ));
    }
    let secret = secrets::new_client_secret();
    let application = state.store.create_application(body.name.trim(), &body.app_type, Some(secrets::hash_secret(&secret))).await?;
    Ok(ok("APPLICATION_CREATED", "Application created", json!({ "application": {
        "id": application.id, "client_id": application.id, "client_secret": secret,
    }})))
}

pub async fn get_one(
    caller: Caller,
    State(state): State<AppState>,
    Path(application_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:applications")?;
    let application = state
        .store
        .find_application(&application_id)
        .await?
        .ok_or_else(|| ApiError::not_found("application", &application_id))?;
    Ok(ok("OK", "success_response", json!({ "application": describe(&application) })))
}
