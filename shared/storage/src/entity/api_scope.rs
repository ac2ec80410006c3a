use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_scopes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub api_id: String,
    /// The scope's name as it appears in tokens, e.g. `read:applications`.
    pub key: String,
    pub description: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::api::Entity", from = "Column::ApiId", to = "super::api::Column::Id")]
    Api,
    #[sea_orm(has_many = "super::api_application_scope::Entity")]
    Grants,
}

impl Related<super::api::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Api.def()
    }
}

impl Related<super::api_application_scope::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Grants.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
