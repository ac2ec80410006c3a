use sea_orm::entity::prelude::*;

/// A key the signers sign with, the same for every signer of the deployment. The private key is
/// sealed with the secrets key (`CLAIMFLOW_SECRETS_KEY`); nothing else about it is secret.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// The JWK `kid`: a fingerprint of the public key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// The PKCS#8 private key (DER, base64), sealed.
    #[sea_orm(column_type = "Text")]
    pub sealed_key: String,
    /// Published from then on (Unix ms).
    pub created_at: i64,
    /// Signs from then on, until a newer key signs (Unix ms): a rotation publishes a key ahead of
    /// its first signature.
    pub signs_from: i64,
    /// Unpublished at once and never used again (Unix ms).
    pub revoked_at: Option<i64>,
    /// No token it signed expires later (Unix seconds, recorded ahead of use): it stays published
    /// until then.
    pub last_exp: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
