//! Sign-in state: sessions, authorization codes, refresh tokens, failed sign-ins.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000004_sign_in"
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    SecretHash,
    UserId,
    AuthTime,
    CreatedAt,
    ExpiresAt,
    EndedAt,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    CodeHash,
    ClientId,
    RedirectUri,
    SessionId,
    UserId,
    CodeChallenge,
    Scope,
    OrgCode,
    Audience,
    SealedTokens,
    ExpiresAt,
    RedeemedAt,
    RefreshFamily,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    FamilyId,
    ClientId,
    UserId,
    SessionId,
    Scope,
    OrgCode,
    Audience,
    AuthTime,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Id,
    Subject,
    At,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string(Sessions::Id).primary_key())
                    .col(string(Sessions::SecretHash).unique_key())
                    .col(string(Sessions::UserId))
                    .col(big_integer(Sessions::AuthTime))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::ExpiresAt))
                    .col(big_integer_null(Sessions::EndedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuthorizationCodes::Table)
                    .col(string(AuthorizationCodes::CodeHash).primary_key())
                    .col(string(AuthorizationCodes::ClientId))
                    .col(text(AuthorizationCodes::RedirectUri))
                    .col(string(AuthorizationCodes::SessionId))
                    .col(string(AuthorizationCodes::UserId))
                    .col(string_null(AuthorizationCodes::CodeChallenge))
                    .col(text(AuthorizationCodes::Scope))
                    .col(string_null(AuthorizationCodes::OrgCode))
                    .col(json(AuthorizationCodes::Audience))
                    .col(text(AuthorizationCodes::SealedTokens))
                    .col(big_integer(AuthorizationCodes::ExpiresAt))
                    .col(big_integer_null(AuthorizationCodes::RedeemedAt))
                    .col(string_null(AuthorizationCodes::RefreshFamily))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(string(RefreshTokens::TokenHash).primary_key())
                    .col(string(RefreshTokens::FamilyId))
                    .col(string(RefreshTokens::ClientId))
                    .col(string(RefreshTokens::UserId))
                    .col(string(RefreshTokens::SessionId))
                    .col(text(RefreshTokens::Scope))
                    .col(string_null(RefreshTokens::OrgCode))
                    .col(json(RefreshTokens::Audience))
                    .col(big_integer(RefreshTokens::AuthTime))
                    .col(big_integer(RefreshTokens::CreatedAt))
                    .col(big_integer(RefreshTokens::ExpiresAt))
                    .col(big_integer_null(RefreshTokens::UsedAt))
                    .col(big_integer_null(RefreshTokens::RevokedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in
            [("refresh_tokens_family", RefreshTokens::FamilyId), ("refresh_tokens_session", RefreshTokens::SessionId)]
        {
            manager.create_index(Index::create().name(name).table(RefreshTokens::Table).col(column).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(LoginFailures::Table)
                    .col(string(LoginFailures::Id).primary_key())
                    .col(string(LoginFailures::Subject))
                    .col(big_integer(LoginFailures::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("login_failures_subject_at")
                    .table(LoginFailures::Table)
                    .col(LoginFailures::Subject)
                    .col(LoginFailures::At)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LoginFailures::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            AuthorizationCodes::Table.into_iden(),
            Sessions::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
