use sea_orm::entity::prelude::*;

/// An application authorized to get tokens for an API.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub api_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub application_id: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::api::Entity", from = "Column::ApiId", to = "super::api::Column::Id")]
    Api,
    #[sea_orm(
        belongs_to = "super::application::Entity",
        from = "Column::ApplicationId",
        to = "super::application::Column::Id"
    )]
    Application,
}

impl Related<super::api::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Api.def()
    }
}

impl Related<super::application::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Application.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
