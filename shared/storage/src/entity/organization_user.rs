//! A user's membership of an organization.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organization_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub joined_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
