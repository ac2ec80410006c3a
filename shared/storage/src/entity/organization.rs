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
    /// The keys of the roles exempt from its own MFA policy, a JSON array (see [`Model::mfa_exempt_roles`]).
    #[sea_orm(column_name = "mfa_exempt_roles")]
    pub mfa_exempt_roles_json: Option<String>,
    pub created_at: i64,
}

impl Model {
    /// The keys of the roles exempt from the organization's own MFA policy.
    pub fn mfa_exempt_roles(&self) -> Vec<String> {
        self.mfa_exempt_roles_json.as_deref().and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
