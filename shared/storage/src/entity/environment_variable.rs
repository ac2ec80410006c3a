use sea_orm::entity::prelude::*;

/// A value workflows read with `kinde.env.get(key)`. Secret values are stored encrypted
/// (AES-256-GCM) and never returned by the management API after creation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "environment_variables")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub key: String,
    /// Plain text, or for secrets `base64(nonce || ciphertext)`.
    pub value: String,
    pub is_secret: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
