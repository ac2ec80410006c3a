//! `/api/v1/audit/tokens`: the audit record of every issued token, newest first, written from
//! the records stream (at most about a second behind the token endpoint). claimflow's own.

use axum::extract::State;
use claimflow_storage::AuditFilter;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, workflows::parse_time, ApiError, ApiQuery, Caller};
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
    let before = match &query.next_token {
        Some(token) => Some(
            token
                .split_once('.')
                .and_then(|(issued_at, jti)| Some((issued_at.parse::<i64>().ok()?, jti.to_owned())))
                .ok_or_else(|| ApiError::bad_request("INVALID_NEXT_TOKEN", "next_token is not one this API returned"))?,
        ),
        None => None,
    };
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
    let mut tokens = state.store.list_token_audits(&filter).await?;
    // NOTE: one more than asked tells whether another page exists.
    let next_token = if tokens.len() as u64 > page_size {
        tokens.truncate(page_size as usize);
        tokens.last().map(|token| format!("{}.{}", token.issued_at, token.jti))
    } else {
        None
    };
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
