//! The records stream's rows: the audit of issued tokens and the runs of workflows. Written in
//! batches by the stream's writer, read by the audit and runs APIs.

use claimflow_contracts::records::IssuanceRecord;
use sea_orm::{
    sea_query::OnConflict, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{
    entity::{token_audit, workflow_run},
    Result, Store,
};

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

/// Rows strictly older than `(time, id)` in a list ordered by time, then id, both descending:
/// where the next page of such a list starts.
pub(crate) fn older_than(time: impl ColumnTrait, id: impl ColumnTrait, (at, last_id): &(i64, String)) -> Condition {
    Condition::any().add(time.lt(*at)).add(Condition::all().add(time.eq(*at)).add(id.lt(last_id.clone())))
}

impl Store {
    /// Stores a batch of records in one transaction. A record already stored (a redelivery after
    /// a writer died between storing and acknowledging) is skipped, not doubled.
    pub async fn write_records(&self, records: &[IssuanceRecord]) -> Result<()> {
        let audits: Vec<token_audit::ActiveModel> = records
            .iter()
            .filter_map(|record| record.audit.as_ref())
            .map(|audit| token_audit::ActiveModel {
                jti: Set(audit.jti.clone()),
                client_id: Set(audit.client_id.clone()),
                grant_type: Set(audit.grant_type.clone()),
                audience: Set(serde_json::json!(audit.audience)),
                org_code: Set(audit.org_code.clone()),
                subject: Set(audit.subject.clone()),
                scope: Set(audit.scope.clone()),
                workflows: Set(serde_json::to_value(&audit.workflows).unwrap_or_default()),
                trace_id: Set(audit.trace_id.clone()),
                issued_at: Set(audit.issued_at_ms),
                expires_at: Set(audit.expires_at),
            })
            .collect();
        let runs: Vec<workflow_run::ActiveModel> = records
            .iter()
            .flat_map(|record| record.runs.iter().map(move |run| (record, run)))
            .map(|(record, run)| workflow_run::ActiveModel {
                id: Set(run.id.clone()),
                event_id: Set(record.event_id.clone()),
                deployment_id: Set(run.deployment_id.clone()),
                workflow_id: Set(run.workflow_id.clone()),
                version: Set(run.version),
                trigger: Set(run.trigger.clone()),
                status: Set(run.status.clone()),
                duration_us: Set(run.duration_us),
                logs: Set(serde_json::to_value(&run.logs).unwrap_or_default()),
                claims_set: Set(run.claims_set.clone()),
                rejected: Set(run.rejected.clone()),
                error: Set(run.error.clone()),
                created_at: Set(run.created_at_ms),
                worker_id: Set(run.worker_id.clone()),
            })
            .collect();
        let txn = self.begin_write().await?;
        // NOTE: chunks keep each statement under SQLite's limit of bound parameters.
        for chunk in audits.chunks(500) {
            token_audit::Entity::insert_many(chunk.to_vec())
                .on_conflict(OnConflict::column(token_audit::Column::Jti).do_nothing().to_owned())
                .do_nothing()
                .exec(&txn)
                .await?;
        }
        for chunk in runs.chunks(200) {
            workflow_run::Entity::insert_many(chunk.to_vec())
                .on_conflict(OnConflict::column(workflow_run::Column::Id).do_nothing().to_owned())
                .do_nothing()
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

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
        Ok(query.limit(filter.limit.clamp(1, 500)).all(&self.db).await?)
    }
}
