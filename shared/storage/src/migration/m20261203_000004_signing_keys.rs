//! Signing keys kept once for the whole deployment, sealed, instead of a key directory per signer.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000004_signing_keys"
    }
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    Alg,
    SealedKey,
    CreatedAt,
    SignsFrom,
    RevokedAt,
    LastExp,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(string(SigningKeys::Kid).primary_key())
                    .col(string(SigningKeys::Alg))
                    .col(text(SigningKeys::SealedKey))
                    .col(big_integer(SigningKeys::CreatedAt))
                    .col(big_integer(SigningKeys::SignsFrom))
                    .col(big_integer_null(SigningKeys::RevokedAt))
                    .col(big_integer(SigningKeys::LastExp))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SigningKeys::Table).to_owned()).await
    }
}
