//! The roles an organization exempts from its own MFA policy (their keys, a JSON array).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000002_mfa_exempt_roles"
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    MfaExemptRoles,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(text_null(Organizations::MfaExemptRoles))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Organizations::Table).drop_column(Organizations::MfaExemptRoles).to_owned(),
            )
            .await
    }
}
