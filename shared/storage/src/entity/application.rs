use sea_orm::entity::prelude::*;

/// An OAuth client. As in Kinde, an application's id is its client id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// `m2m`, `reg` or `spa`.
    pub app_type: String,
    /// SHA-256 of the client secret, hex. Secrets are 256-bit random, so a fast hash is enough;
    /// what matters is that the database never holds the secret itself.
    pub client_secret_hash: Option<String>,
    pub created_at: i64,
    /// Seconds; the service default when unset.
    pub access_token_lifetime: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
