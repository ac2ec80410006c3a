//! Workflow deployments: versions, the live one per trigger, rollbacks and deletion.

use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::{
    entity::{live_workflow, workflow_deployment},
    now_ms, random_id, unique_or_db, Result, StorageError, Store,
};

/// The PostgreSQL advisory lock deploys take turns on.
const DEPLOY_LOCK: i64 = 0x636c_6677_6465_706c; // "clfwdepl"

pub struct NewDeployment {
    pub workflow_id: String,
    pub name: String,
    pub trigger: claimflow_contracts::Trigger,
    pub settings: claimflow_contracts::settings::WorkflowSettings,
    pub source_path: String,
    pub source: String,
    pub code: String,
    pub code_hash: String,
    pub source_map: Option<String>,
    /// The project files it imports (empty when none).
    pub graph: claimflow_contracts::workflow::ModuleGraph,
    pub timeout_ms: Option<i64>,
}

/// Makes `deployment` the live one for its trigger, replacing whichever was.
async fn set_live(db: &impl sea_orm::ConnectionTrait, deployment: &workflow_deployment::Model) -> Result<()> {
    live_workflow::Entity::insert(live_workflow::ActiveModel {
        trigger: Set(deployment.trigger),
        deployment_id: Set(deployment.id.clone()),
        updated_at: Set(now_ms()),
    })
    .on_conflict(
        OnConflict::column(live_workflow::Column::Trigger)
            .update_columns([live_workflow::Column::DeploymentId, live_workflow::Column::UpdatedAt])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

impl Store {
    /// Stores each workflow as its next version and makes it the live one for its trigger, all
    /// or nothing.
    pub async fn deploy_workflows(&self, deployments: Vec<NewDeployment>) -> Result<Vec<workflow_deployment::Model>> {
        let txn = self.begin_write().await?;
        // NOTE: deploys take turns, so that two of one workflow get consecutive versions: on
        // PostgreSQL both would read the same latest version (SQLite's write lock already
        // serializes them). Deploys are rare; the lock ends with the transaction.
        if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({DEPLOY_LOCK})")).await?;
        }
        let now = now_ms();
        let mut deployed = Vec::with_capacity(deployments.len());
        for new in deployments {
            let latest: Option<i32> = workflow_deployment::Entity::find()
                .select_only()
                .column_as(workflow_deployment::Column::Version.max(), "latest")
                .filter(workflow_deployment::Column::WorkflowId.eq(&new.workflow_id))
                .into_tuple::<Option<i32>>()
                .one(&txn)
                .await?
                .flatten();
            let workflow_id = new.workflow_id.clone();
            let deployment = workflow_deployment::ActiveModel {
                id: Set(random_id()),
                workflow_id: Set(workflow_id.clone()),
                version: Set(latest.unwrap_or(0) + 1),
                name: Set(new.name),
                trigger: Set(new.trigger),
                settings: Set(workflow_deployment::StoredSettings(new.settings)),
                source_path: Set(new.source_path),
                source: Set(new.source),
                code: Set(new.code),
                code_hash: Set(new.code_hash),
                source_map: Set(new.source_map),
                modules: Set((!new.graph.is_empty()).then_some(workflow_deployment::StoredGraph(new.graph))),
                timeout_ms: Set(new.timeout_ms),
                created_at: Set(now),
            }
            .insert(&txn)
            .await
            .map_err(unique_or_db(|| {
                format!("workflow {workflow_id} was deployed by another request at the same time")
            }))?;
            set_live(&txn, &deployment).await?;
            deployed.push(deployment);
        }
        txn.commit().await?;
        Ok(deployed)
    }

    /// The deployment that runs for `trigger`, if any.
    /// One query: this runs on every token request.
    pub async fn live_deployment(
        &self,
        trigger: claimflow_contracts::Trigger,
    ) -> Result<Option<workflow_deployment::Model>> {
        Ok(workflow_deployment::Entity::find()
            .inner_join(live_workflow::Entity)
            .filter(live_workflow::Column::Trigger.eq(trigger))
            .one(&self.db)
            .await?)
    }

    pub async fn find_deployment(&self, id: &str) -> Result<Option<workflow_deployment::Model>> {
        Ok(workflow_deployment::Entity::find_by_id(id).one(&self.db).await?)
    }

    pub async fn list_deployments(&self) -> Result<Vec<workflow_deployment::Model>> {
        Ok(workflow_deployment::Entity::find()
            .order_by_asc(workflow_deployment::Column::WorkflowId)
            .order_by_asc(workflow_deployment::Column::Version)
            .all(&self.db)
            .await?)
    }

    pub async fn live_deployment_ids(&self) -> Result<Vec<String>> {
        Ok(live_workflow::Entity::find().all(&self.db).await?.into_iter().map(|live| live.deployment_id).collect())
    }

    /// A deployment whose transpiled code has this content hash.
    pub async fn deployment_by_code_hash(&self, code_hash: &str) -> Result<Option<workflow_deployment::Model>> {
        Ok(workflow_deployment::Entity::find()
            .filter(workflow_deployment::Column::CodeHash.eq(code_hash))
            .one(&self.db)
            .await?)
    }

    /// Makes an earlier (or any) version of a workflow the live one for its trigger.
    pub async fn make_live(&self, workflow_id: &str, version: i32) -> Result<workflow_deployment::Model> {
        let txn = self.begin_write().await?;
        let deployment = workflow_deployment::Entity::find()
            .filter(workflow_deployment::Column::WorkflowId.eq(workflow_id))
            .filter(workflow_deployment::Column::Version.eq(version))
            .one(&txn)
            .await?
            .ok_or_else(|| StorageError::NotFound {
                what: "workflow version",
                id: format!("{workflow_id} v{version}"),
            })?;
        set_live(&txn, &deployment).await?;
        txn.commit().await?;
        Ok(deployment)
    }

    /// Deletes a workflow: it stops running, its versions are removed; its runs stay on record.
    pub async fn delete_workflow(&self, workflow_id: &str) -> Result<u64> {
        use sea_orm::sea_query::Query;
        let txn = self.begin_write().await?;
        let versions = Query::select()
            .column(workflow_deployment::Column::Id)
            .from(workflow_deployment::Entity)
            .and_where(workflow_deployment::Column::WorkflowId.eq(workflow_id))
            .to_owned();
        live_workflow::Entity::delete_many()
            .filter(live_workflow::Column::DeploymentId.in_subquery(versions))
            .exec(&txn)
            .await?;
        let deleted = workflow_deployment::Entity::delete_many()
            .filter(workflow_deployment::Column::WorkflowId.eq(workflow_id))
            .exec(&txn)
            .await?
            .rows_affected;
        if deleted == 0 {
            return Err(StorageError::NotFound { what: "workflow", id: workflow_id.to_owned() });
        }
        txn.commit().await?;
        Ok(deleted)
    }
}
