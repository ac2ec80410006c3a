//! The audit of issued tokens, as the audit API lists it.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{entity::token_audit, older_than, Result, Store};

/// Filters for [`Store::list_token_audits`].
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub client_id: Option<String>,
    pub org_code: Option<String>,
    pub jti: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since_ms: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub until_ms: Option<i64>,
    /// Strictly older than this `(issued_at, jti)` (the previous page's last entry).
    pub before: Option<(i64, String)>,
    pub limit: u64,
}

impl Store {
    /// Most recent first.
    pub async fn list_token_audits(&self, filter: &AuditFilter) -> Result<Vec<token_audit::Model>> {
        let mut query = token_audit::Entity::find()
            .order_by_desc(token_audit::Column::IssuedAt)
            .order_by_desc(token_audit::Column::Jti);
        if let Some(client_id) = &filter.client_id {
            query = query.filter(token_audit::Column::ClientId.eq(client_id));
        }
        if let Some(org_code) = &filter.org_code {
            query = query.filter(token_audit::Column::OrgCode.eq(org_code));
        }
        if let Some(jti) = &filter.jti {
            query = query.filter(token_audit::Column::Jti.eq(jti));
        }
        if let Some(since) = filter.since_ms {
            query = query.filter(token_audit::Column::IssuedAt.gte(since));
        }
        if let Some(until) = filter.until_ms {
            query = query.filter(token_audit::Column::IssuedAt.lt(until));
        }
        if let Some(before) = &filter.before {
            query = query.filter(older_than(token_audit::Column::IssuedAt, token_audit::Column::Jti, before));
        }
        Ok(query.limit(filter.limit.clamp(1, crate::MAX_PAGE_SIZE + 1)).all(&self.db).await?)
    }
}
