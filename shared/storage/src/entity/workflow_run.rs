use sea_orm::entity::prelude::*;

/// The record of one workflow run during a token request.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_id: String,
    pub deployment_id: String,
    pub workflow_id: String,
    pub version: i32,
    pub trigger: claimflow_contracts::Trigger,
    pub status: claimflow_contracts::workflow::RunStatus,
    pub duration_us: i64,
    /// Console output: `[{level, message}]`.
    pub logs: Json,
    /// Claims the run set, per token kind: `{"m2m": {...}}`.
    pub claims_set: Json,
    /// Claims the signer refused: `[{token, claim, reason}]`.
    pub rejected: Json,
    pub error: Option<String>,
    pub created_at: i64,
    /// The worker that ran it.
    pub worker_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
