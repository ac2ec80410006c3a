//! Multi-factor authentication settings, Kinde's paths: the environment's policy (`/mfa`), an
//! organization's own (`/organizations/{org_code}/mfa`), and resetting a user's factor when
//! they lost their phone (`/users/{user_id}/mfa`).

use axum::{extract::Path, extract::State};
use claimflow_contracts::mfa::{MfaPolicy, AUTHENTICATOR_APP};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{reply, Answer, ApiError, ApiJson, BadRequest, Done, NotFound, Reply};
use crate::AppState;

/// Whether a second factor is asked for at sign-in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    Off,
    Optional,
    Required,
}

impl From<Policy> for MfaPolicy {
    fn from(policy: Policy) -> Self {
        match policy {
            Policy::Off => MfaPolicy::Off,
            Policy::Optional => MfaPolicy::Optional,
            Policy::Required => MfaPolicy::Required,
        }
    }
}

impl From<MfaPolicy> for Policy {
    fn from(policy: MfaPolicy) -> Self {
        match policy {
            MfaPolicy::Off => Policy::Off,
            MfaPolicy::Optional => Policy::Optional,
            MfaPolicy::Required => Policy::Required,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentMfa {
    policy: Policy,
    /// claimflow offers `mfa:authenticator_app` only.
    #[serde(default)]
    enabled_factors: Option<Vec<String>>,
    /// Recovery codes are always given at enrolment.
    #[serde(default)]
    is_recovery_codes_enabled: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct MfaSettings {
    policy: Policy,
    enabled_factors: Vec<&'static str>,
    is_recovery_codes_enabled: bool,
}

fn settings(policy: MfaPolicy) -> MfaSettings {
    MfaSettings { policy: policy.into(), enabled_factors: vec![AUTHENTICATOR_APP], is_recovery_codes_enabled: true }
}

fn check_factors(factors: Option<&[String]>) -> Result<(), ApiError> {
    match factors.unwrap_or_default().iter().find(|factor| *factor != AUTHENTICATOR_APP) {
        Some(other) => Err(ApiError::bad_request(
            "INVALID_FACTOR",
            format!("enabled_factors: claimflow offers {AUTHENTICATOR_APP} only, not {other:?}"),
        )),
        None => Ok(()),
    }
}

#[utoipa::path(get, path = "/mfa", summary = "Get the environment's MFA policy",
    security(("bearer" = ["read:mfa"])), responses((status = 200, body = Reply<MfaSettings>)))]
pub async fn get_environment(State(state): State<AppState>) -> Answer<MfaSettings> {
    reply("OK", "Success", settings(state.store.environment_mfa_policy().await?))
}

#[utoipa::path(put, path = "/mfa", summary = "Set the environment's MFA policy", request_body = EnvironmentMfa,
    security(("bearer" = ["update:mfa"])), responses((status = 200, body = Reply<MfaSettings>), BadRequest))]
pub async fn set_environment(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EnvironmentMfa>,
) -> Answer<MfaSettings> {
    check_factors(body.enabled_factors.as_deref())?;
    if body.is_recovery_codes_enabled == Some(false) {
        return Err(ApiError::bad_request(
            "INVALID_REQUEST",
            "is_recovery_codes_enabled: claimflow always gives recovery codes at enrolment",
        ));
    }
    state.store.set_environment_mfa_policy(body.policy.into()).await?;
    tracing::info!(policy = ?body.policy, "environment MFA policy set");
    reply("OK", "MFA policy updated", settings(body.policy.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationMfa {
    /// `null`: the environment's policy applies to the organization.
    policy: Option<Policy>,
    #[serde(default)]
    enabled_factors: Option<Vec<String>>,
    /// Keys of roles exempt from the organization's own policy: a member whose roles there are
    /// all exempt is not asked for a second factor (one role that is not, and they are).
    #[serde(default)]
    exempt_roles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationMfaSettings {
    /// The organization's own policy, `null` when the environment's applies.
    policy: Option<Policy>,
    /// What applies to a sign-in to the organization.
    effective_policy: Policy,
    enabled_factors: Vec<&'static str>,
    /// Exempt from the organization's own policy (not from the environment's).
    exempt_roles: Vec<String>,
}

async fn organization_settings(state: &AppState, code: &str) -> Result<OrganizationMfaSettings, ApiError> {
    let organization =
        state.store.find_organization(code).await?.ok_or_else(|| ApiError::not_found("organization", code))?;
    let effective = match organization.mfa_policy {
        Some(policy) => policy,
        None => state.store.environment_mfa_policy().await?,
    };
    Ok(OrganizationMfaSettings {
        policy: organization.mfa_policy.map(Policy::from),
        effective_policy: effective.into(),
        enabled_factors: vec![AUTHENTICATOR_APP],
        exempt_roles: organization.mfa_exempt_roles(),
    })
}

#[utoipa::path(get, path = "/organizations/{org_code}/mfa", summary = "Get an organization's MFA policy",
    security(("bearer" = ["read:organizations"])),
    responses((status = 200, body = Reply<OrganizationMfaSettings>), NotFound))]
pub async fn get_organization(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Answer<OrganizationMfaSettings> {
    reply("OK", "Success", organization_settings(&state, &code).await?)
}

#[utoipa::path(put, path = "/organizations/{org_code}/mfa", summary = "Set an organization's MFA policy",
    request_body = OrganizationMfa, security(("bearer" = ["update:organizations"])),
    responses((status = 200, body = Reply<OrganizationMfaSettings>), BadRequest, NotFound))]
pub async fn set_organization(
    State(state): State<AppState>,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<OrganizationMfa>,
) -> Answer<OrganizationMfaSettings> {
    check_factors(body.enabled_factors.as_deref())?;
    let policy = body.policy.map(MfaPolicy::from);
    state.store.set_organization_mfa(&code, policy, &body.exempt_roles).await.map_err(|err| match err {
        claimflow_storage::StorageError::NotFound { what: "role", id } => {
            ApiError::bad_request("INVALID_REQUEST", format!("exempt_roles: there is no role with the key {id:?}"))
        }
        other => other.into(),
    })?;
    tracing::info!(org_code = %code, policy = ?body.policy, exempt_roles = ?body.exempt_roles, "organization MFA policy set");
    reply("OK", "MFA policy updated", organization_settings(&state, &code).await?)
}

#[utoipa::path(delete, path = "/users/{user_id}/mfa", summary = "Reset a user's MFA (a lost authenticator)",
    security(("bearer" = ["delete:user_mfa"])), responses((status = 200, body = Reply<Done>), NotFound))]
pub async fn reset_user(State(state): State<AppState>, Path(user_id): Path<String>) -> Answer<Done> {
    state.store.reset_user_mfa(&user_id).await?;
    tracing::info!(%user_id, "user MFA reset");
    reply("OK", "MFA reset: the user enrols again at the next sign-in that asks for it", Done {})
}
