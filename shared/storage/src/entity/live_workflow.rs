use sea_orm::entity::prelude::*;

/// The deployment that runs for a trigger: one live workflow per trigger, as in Kinde.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "live_workflows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub trigger: claimflow_contracts::Trigger,
    pub deployment_id: String,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::workflow_deployment::Entity",
        from = "Column::DeploymentId",
        to = "super::workflow_deployment::Column::Id"
    )]
    Deployment,
}

impl Related<super::workflow_deployment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Deployment.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
