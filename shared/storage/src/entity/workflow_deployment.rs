use claimflow_contracts::settings::WorkflowSettings;
use sea_orm::{entity::prelude::*, FromJsonQueryResult};
use serde::{Deserialize, Serialize};

/// `workflowSettings`, stored as JSON and read typed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct StoredSettings(pub WorkflowSettings);

impl std::ops::Deref for StoredSettings {
    type Target = WorkflowSettings;

    fn deref(&self) -> &WorkflowSettings {
        &self.0
    }
}

/// The project modules a deployment imports, stored as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct StoredGraph(pub claimflow_contracts::workflow::ModuleGraph);

/// One deployed version of a workflow. Immutable once written: rollbacks point
/// `live_workflows` at an older row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_deployments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `workflowSettings.id`.
    pub workflow_id: String,
    pub version: i32,
    pub name: String,
    pub trigger: claimflow_contracts::Trigger,
    /// `workflowSettings` as deployed (bindings, failurePolicy, ...).
    #[sea_orm(column_type = "Json")]
    pub settings: StoredSettings,
    /// The file it came from, relative to the deployed directory.
    pub source_path: String,
    pub source: String,
    /// Transpiled JavaScript (an ES module).
    pub code: String,
    /// `claimflow_contracts::workflow::code_hash` of `code` and `modules`.
    pub code_hash: String,
    /// Source map from `code` back to `source`.
    pub source_map: Option<String>,
    /// The project files it imports, transpiled and linked; unset when it imports none.
    #[sea_orm(column_type = "Json", nullable)]
    pub modules: Option<StoredGraph>,
    /// Wall-time limit of a run of this deployment; the service default when unset.
    pub timeout_ms: Option<i64>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::live_workflow::Entity")]
    Live,
}

impl Related<super::live_workflow::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Live.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
