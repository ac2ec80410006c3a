//! A role or permission a user holds within an organization (`grant` is `role` or `permission`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organization_user_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub grant: String,
    /// The role's or permission's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub grant_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
