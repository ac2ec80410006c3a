//! `/api/v1/audit/tokens`: the audit record of every issued token, newest first, written from
//! the records stream (at most about a second behind the token endpoint). claimflow's own.

use axum::extract::State;
use claimflow_storage::AuditFilter;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{keyset_after, keyset_page, ok, workflows::parse_time, ApiError, ApiQuery, Caller};
use crate::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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

pub async fn list_tokens(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require("read:audit")?;
    let before = keyset_after(query.next_token.as_deref())?;
    let page_size = query.page_size.unwrap_or(50).clamp(1, 500);
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
    let tokens: Vec<Value> = tokens
        .into_iter()
        .map(|token| {
            json!({
                "jti": token.jti, "client_id": token.client_id, "grant_type": token.grant_type,
                "audience": token.audience, "org_code": token.org_code, "subject": token.subject,
                "scope": token.scope, "workflows": token.workflows, "trace_id": token.trace_id,
                "issued_at": token.issued_at, "expires_at": token.expires_at,
            })
        })
        .collect();
    Ok(ok("OK", "Success", json!({ "tokens": tokens, "next_token": next_token })))
}
