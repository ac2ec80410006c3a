use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    /// `org_` and 11 hex digits, as Kinde's codes.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    pub external_id: Option<String>,
    /// Unique when set (Kinde's `handle`).
    pub handle: Option<String>,
    /// Its own MFA policy; none: the environment's applies.
    pub mfa_policy: Option<claimflow_contracts::mfa::MfaPolicy>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
