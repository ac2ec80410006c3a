use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// The `sid` claim.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// SHA-256 (hex) of the cookie value.
    #[sea_orm(unique)]
    pub secret_hash: String,
    pub user_id: String,
    /// When the user entered their password.
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// Set by sign-out.
    pub ended_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
