use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// `kp_` and 32 hex digits, as Kinde's user ids.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    /// argon2id, PHC string; set with `PUT /users/{id}/password`.
    pub password_hash: Option<String>,
    /// The person proved they read mail at `email` (a code sent there).
    pub email_verified: bool,
    /// A second identity to sign in with: lowercase, unique when set.
    pub username: Option<String>,
    /// The authenticator app's TOTP secret (base32), sealed with the secrets key; set once the
    /// user enrolled.
    pub totp_secret: Option<String>,
    /// The 30-second step of the last code accepted: no code works twice.
    pub totp_last_step: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
