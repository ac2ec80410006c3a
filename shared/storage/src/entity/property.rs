use sea_orm::entity::prelude::*;

/// A custom property definition (Kinde's `properties`): users, organizations or applications
/// carry values for it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "properties")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub key: String,
    pub name: String,
    pub description: String,
    /// `usr`, `org` or `app`.
    pub context: String,
    pub is_private: bool,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
