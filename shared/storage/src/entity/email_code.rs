use sea_orm::entity::prelude::*;

/// A one-time code sent by email. The browser holds the ticket (a random secret naming the
/// row), the person types the code from the email; both are stored as SHA-256 hashes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_hash: String,
    pub user_id: String,
    /// `verify_email` or `reset_password`.
    pub purpose: String,
    pub code_hash: String,
    pub expires_at: i64,
    /// Wrong codes typed so far.
    pub attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
