use sea_orm::entity::prelude::*;

/// The audit event of one issued token (see `claimflow_contracts::records::TokenAudit`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "token_audit")]
pub struct Model {
    /// The access token's `jti`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    pub client_id: String,
    pub grant_type: String,
    /// `["audience", ...]`.
    pub audience: Json,
    pub org_code: Option<String>,
    pub subject: Option<String>,
    pub scope: String,
    /// `[{workflow_id, version}]`.
    pub workflows: Json,
    pub trace_id: Option<String>,
    pub issued_at: i64,
    /// Unix seconds, as the token's `exp`.
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
