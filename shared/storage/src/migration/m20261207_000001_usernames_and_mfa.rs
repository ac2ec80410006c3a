//! Usernames (an optional second identity to sign in with) and multi-factor authentication:
//! the environment's and each organization's policy, a user's authenticator-app secret and
//! recovery codes, and the sign-ins waiting for their second factor.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000001_usernames_and_mfa"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Username,
    TotpSecret,
    TotpLastStep,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    MfaPolicy,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Name,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    CodeHash,
    UserId,
    UsedAt,
}

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    TicketHash,
    UserId,
    SessionPolicy,
    PendingSecret,
    Optional,
    Passed,
    ExpiresAt,
    Attempts,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // NOTE: one column per statement: SQLite alters a table one column at a time.
        for column in
            [string_null(Users::Username), string_null(Users::TotpSecret), big_integer_null(Users::TotpLastStep)]
        {
            manager.alter_table(Table::alter().table(Users::Table).add_column(column).to_owned()).await?;
        }
        manager
            .create_index(
                Index::create().name("users_username").table(Users::Table).col(Users::Username).unique().to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(Organizations::Table).add_column(string_null(Organizations::MfaPolicy)).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Settings::Table)
                    .col(string(Settings::Name).primary_key())
                    .col(string(Settings::Value))
                    .col(big_integer(Settings::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(string(RecoveryCodes::CodeHash).primary_key())
                    .col(string(RecoveryCodes::UserId))
                    .col(big_integer_null(RecoveryCodes::UsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("recovery_codes_user")
                    .table(RecoveryCodes::Table)
                    .col(RecoveryCodes::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaChallenges::Table)
                    .col(string(MfaChallenges::TicketHash).primary_key())
                    .col(string(MfaChallenges::UserId))
                    .col(string_null(MfaChallenges::SessionPolicy))
                    .col(string_null(MfaChallenges::PendingSecret))
                    .col(boolean(MfaChallenges::Optional))
                    .col(boolean(MfaChallenges::Passed).default(false))
                    .col(big_integer(MfaChallenges::ExpiresAt))
                    .col(integer(MfaChallenges::Attempts).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [MfaChallenges::Table.into_iden(), RecoveryCodes::Table.into_iden(), Settings::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        manager
            .alter_table(Table::alter().table(Organizations::Table).drop_column(Organizations::MfaPolicy).to_owned())
            .await?;
        manager.drop_index(Index::drop().name("users_username").table(Users::Table).to_owned()).await?;
        for column in [Users::TotpLastStep, Users::TotpSecret, Users::Username] {
            manager.alter_table(Table::alter().table(Users::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
