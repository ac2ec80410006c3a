//! The record of workflow runs, as the runs API lists them.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{entity::workflow_run, older_than, Result, Store};

/// Filters for [`Store::list_runs`].
#[derive(Debug, Default, Clone)]
pub struct RunFilter {
    pub workflow_id: Option<String>,
    pub status: Option<claimflow_contracts::workflow::RunStatus>,
    /// Unix milliseconds, inclusive.
    pub since_ms: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub until_ms: Option<i64>,
    /// Runs strictly older than this `(created_at, id)` (the previous page's last run).
    pub before: Option<(i64, String)>,
    pub limit: u64,
}

impl Store {
    /// Most recent runs first.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<workflow_run::Model>> {
        let mut query = workflow_run::Entity::find()
            .order_by_desc(workflow_run::Column::CreatedAt)
            .order_by_desc(workflow_run::Column::Id);
        if let Some(workflow_id) = &filter.workflow_id {
            query = query.filter(workflow_run::Column::WorkflowId.eq(workflow_id));
        }
        if let Some(status) = &filter.status {
            query = query.filter(workflow_run::Column::Status.eq(*status));
        }
        if let Some(since) = filter.since_ms {
            query = query.filter(workflow_run::Column::CreatedAt.gte(since));
        }
        if let Some(until) = filter.until_ms {
            query = query.filter(workflow_run::Column::CreatedAt.lt(until));
        }
        if let Some(before) = &filter.before {
            query = query.filter(older_than(workflow_run::Column::CreatedAt, workflow_run::Column::Id, before));
        }
        Ok(query.limit(filter.limit.clamp(1, crate::MAX_PAGE_SIZE + 1)).all(&self.db).await?)
    }

    pub async fn find_run(&self, id: &str) -> Result<Option<workflow_run::Model>> {
        Ok(workflow_run::Entity::find_by_id(id).one(&self.db).await?)
    }
}
