use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// Every token rotated from one sign-in shares a family; reuse revokes all of it.
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: String,
    pub scope: String,
    pub org_code: Option<String>,
    pub audience: Json,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// Set when it was exchanged for its successor.
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
