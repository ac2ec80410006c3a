//! A user's values for `usr` properties (Kinde's `users/{id}/properties`).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000001_user_properties"
    }
}

#[derive(DeriveIden)]
enum UserProperties {
    Table,
    UserId,
    PropertyId,
    Value,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserProperties::Table)
                    .col(string(UserProperties::UserId))
                    .col(string(UserProperties::PropertyId))
                    .col(text(UserProperties::Value))
                    .primary_key(Index::create().col(UserProperties::UserId).col(UserProperties::PropertyId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UserProperties::Table).to_owned()).await
    }
}
