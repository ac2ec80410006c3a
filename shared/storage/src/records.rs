//! What the records stream's writer stores: audit events and run records, in batches.

use sea_orm::{sea_query::OnConflict, ActiveValue::Set, EntityTrait};

use claimflow_contracts::records::IssuanceRecord;

use crate::{
    entity::{token_audit, workflow_run},
    Result, Store,
};

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
                trigger: Set(run.trigger),
                status: Set(run.status),
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
}
