use sea_orm::entity::prelude::*;

/// A resource server that tokens are issued for, identified by its audience.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "apis")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    #[sea_orm(unique)]
    pub audience: String,
    /// The management API itself (`<issuer>/api`): created at start, cannot be deleted.
    pub is_management_api: bool,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::api_scope::Entity")]
    Scopes,
    #[sea_orm(has_many = "super::api_application::Entity")]
    Authorizations,
}

impl Related<super::api_scope::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Scopes.def()
    }
}

impl Related<super::api_application::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Authorizations.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
