//! The audit record of every issued token, written from the records stream.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000001_token_audit"
    }
}

#[derive(DeriveIden)]
enum TokenAudit {
    Table,
    Jti,
    ClientId,
    GrantType,
    Audience,
    OrgCode,
    Subject,
    Scope,
    Workflows,
    TraceId,
    IssuedAt,
    ExpiresAt,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TokenAudit::Table)
                    .col(string(TokenAudit::Jti).primary_key())
                    .col(string(TokenAudit::ClientId))
                    .col(string(TokenAudit::GrantType))
                    .col(json(TokenAudit::Audience))
                    .col(string_null(TokenAudit::OrgCode))
                    .col(string_null(TokenAudit::Subject))
                    .col(text(TokenAudit::Scope))
                    .col(json(TokenAudit::Workflows))
                    .col(string_null(TokenAudit::TraceId))
                    .col(big_integer(TokenAudit::IssuedAt))
                    .col(big_integer(TokenAudit::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        // NOTE: the audit API lists newest first, filtered by client or organization.
        for (name, column) in [
            ("token_audit_issued", None),
            ("token_audit_client_issued", Some(TokenAudit::ClientId)),
            ("token_audit_org_issued", Some(TokenAudit::OrgCode)),
        ] {
            let mut index = Index::create();
            index.name(name).table(TokenAudit::Table);
            if let Some(column) = column {
                index.col(column);
            }
            manager.create_index(index.col(TokenAudit::IssuedAt).col(TokenAudit::Jti).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(TokenAudit::Table).to_owned()).await
    }
}
