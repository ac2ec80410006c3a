//! One-time codes sent by email (to verify an address, to reset a password), and whether a
//! user's email is verified.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000002_email_codes"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    EmailVerified,
}

#[derive(DeriveIden)]
enum EmailCodes {
    Table,
    TicketHash,
    UserId,
    Purpose,
    CodeHash,
    ExpiresAt,
    Attempts,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Users::Table).add_column(boolean(Users::EmailVerified).default(false)).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailCodes::Table)
                    .col(string(EmailCodes::TicketHash).primary_key())
                    .col(string(EmailCodes::UserId))
                    .col(string(EmailCodes::Purpose))
                    .col(string(EmailCodes::CodeHash))
                    .col(big_integer(EmailCodes::ExpiresAt))
                    .col(integer(EmailCodes::Attempts).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(EmailCodes::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::EmailVerified).to_owned()).await
    }
}
