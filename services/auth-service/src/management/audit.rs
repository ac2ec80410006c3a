//! `/api/v1/audit/tokens`: the audit record of every issued token, newest first, written from
//! the records stream (at most about a second behind the token endpoint). claimflow's own.

use axum::extract::State;
use claimflow_storage::{entity::token_audit, AuditFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{keyset_after, keyset_page, reply, workflows::parse_time, Answer, ApiQuery, BadRequest, Reply};
use crate::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    client_id: Option<String>,
    org_code: Option<String>,
    jti: Option<String>,
    /// RFC 3339 times: tokens issued at or after `since`, before `until`.
    since: Option<String>,
    until: Option<String>,
    page_size: Option<u64>,
    next_token: Option<String>,
}

/// The audit record of one issued token.
#[derive(Serialize, ToSchema)]
pub struct TokenAudit {
    jti: String,
    client_id: String,
    grant_type: String,
    /// `["audience", ...]`.
    #[schema(value_type = Vec<String>)]
    audience: Value,
    org_code: Option<String>,
    subject: Option<String>,
    scope: String,
    /// `[{workflow_id, version}]`.
    #[schema(value_type = Vec<Object>)]
    workflows: Value,
    trace_id: Option<String>,
    issued_at: i64,
    /// Unix seconds, as the token's `exp`.
    expires_at: i64,
}

impl From<token_audit::Model> for TokenAudit {
    fn from(token: token_audit::Model) -> Self {
        Self {
            jti: token.jti,
            client_id: token.client_id,
            grant_type: token.grant_type,
            audience: token.audience,
            org_code: token.org_code,
            subject: token.subject,
            scope: token.scope,
            workflows: token.workflows,
            trace_id: token.trace_id,
            issued_at: token.issued_at,
            expires_at: token.expires_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TokenAuditList {
    tokens: Vec<TokenAudit>,
    next_token: Option<String>,
}

#[utoipa::path(get, path = "/audit/tokens", summary = "List issued tokens, newest first", params(AuditQuery),
    security(("bearer" = ["read:audit"])), responses((status = 200, body = Reply<TokenAuditList>), BadRequest))]
pub async fn list_tokens(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Answer<TokenAuditList> {
    let before = keyset_after(query.next_token.as_deref())?;
    let page_size = query.page_size.unwrap_or(50).clamp(1, claimflow_storage::MAX_PAGE_SIZE);
    let filter = AuditFilter {
        client_id: query.client_id,
        org_code: query.org_code,
        jti: query.jti,
        since_ms: query.since.as_deref().map(|since| parse_time("since", since)).transpose()?,
        until_ms: query.until.as_deref().map(|until| parse_time("until", until)).transpose()?,
        before,
        limit: page_size + 1,
    };
    let tokens = state.store.list_token_audits(&filter).await?;
    let (tokens, next_token) = keyset_page(tokens, page_size, |token| (token.issued_at, token.jti.as_str()));
    let tokens = tokens.into_iter().map(TokenAudit::from).collect();
    reply("OK", "Success", TokenAuditList { tokens, next_token })
}
