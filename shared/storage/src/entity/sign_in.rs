//! Sign-in state: browser sessions, authorization codes, refresh tokens and failed sign-ins.
//! Secrets (session cookies, codes, refresh tokens) are stored only as SHA-256 hashes.

pub mod session {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        /// The `sid` claim.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// SHA-256 (hex) of the cookie value.
        #[sea_orm(unique)]
        pub secret_hash: String,
        pub user_id: String,
        /// When the user entered their password.
        pub auth_time: i64,
        pub created_at: i64,
        pub expires_at: i64,
        /// Set by sign-out.
        pub ended_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod authorization_code {
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
}

pub mod refresh_token {
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
}

/// One failed sign-in, counted per account (`account:<email>`) and per address (`ip:<addr>`).
pub mod login_failure {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_failures")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub subject: String,
        pub at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
