use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authorization_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub session_id: String,
    pub user_id: String,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    pub scope: String,
    pub org_code: Option<String>,
    /// The audiences requested (a JSON array).
    pub audience: Json,
    /// The tokens signed when the code was issued, encrypted.
    pub sealed_tokens: String,
    pub expires_at: i64,
    /// Set on the first exchange; a second exchange is a replay.
    pub redeemed_at: Option<i64>,
    /// The refresh-token family the exchange started, revoked if the code is replayed.
    pub refresh_family: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
