use sea_orm::entity::prelude::*;

/// A sign-in whose first factor is done, waiting for the second. The browser holds the ticket
/// (a random secret naming the row, stored as its SHA-256).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mfa_challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_hash: String,
    pub user_id: String,
    /// `kinde.ssoSession.setPolicy` of the post-authentication workflow, for the session to come.
    pub session_policy: Option<String>,
    /// Enrolment: the secret shown as a QR code (sealed), until a code from it is typed.
    pub pending_secret: Option<String>,
    /// The person may skip enrolling (the `optional` policy).
    pub optional: bool,
    /// The code was right; the recovery codes are being shown before the session starts.
    pub passed: bool,
    pub expires_at: i64,
    /// Wrong codes typed so far.
    pub attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
