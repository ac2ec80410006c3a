use sea_orm::entity::prelude::*;

/// A scope of an API granted to an authorized application.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_application_scopes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub api_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub application_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::api_scope::Entity", from = "Column::ScopeId", to = "super::api_scope::Column::Id")]
    Scope,
}

impl Related<super::api_scope::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Scope.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
