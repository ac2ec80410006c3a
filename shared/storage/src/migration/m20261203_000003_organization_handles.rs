//! Organizations' handles (Kinde's `handle`: a unique, human-readable name such as `acme-eu`).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000003_organization_handles"
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Handle,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Organizations::Table).add_column(string_null(Organizations::Handle)).to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("organizations_handle")
                    .table(Organizations::Table)
                    .col(Organizations::Handle)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("organizations_handle").table(Organizations::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Organizations::Table).drop_column(Organizations::Handle).to_owned())
            .await
    }
}
