//! Users, roles, permissions, feature flags and organization membership (user tokens).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000003_identity"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    GivenName,
    FamilyName,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AccessKeys {
    Table,
    Id,
    Kind,
    Key,
    Name,
    Description,
}

#[derive(DeriveIden)]
enum RolePermissions {
    Table,
    RoleId,
    PermissionId,
}

#[derive(DeriveIden)]
enum FeatureFlags {
    Table,
    Key,
    Name,
    Description,
    FlagType,
    DefaultValue,
}

#[derive(DeriveIden)]
enum OrganizationUsers {
    Table,
    OrgCode,
    UserId,
    JoinedAt,
}

#[derive(DeriveIden)]
enum OrganizationUserGrants {
    Table,
    OrgCode,
    UserId,
    Grant,
    GrantId,
}

#[derive(DeriveIden)]
enum OrganizationProperties {
    Table,
    OrgCode,
    PropertyId,
    Value,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string(Users::Id).primary_key())
                    .col(string(Users::Email).unique_key())
                    .col(string(Users::GivenName))
                    .col(string(Users::FamilyName))
                    .col(text_null(Users::PasswordHash))
                    .col(big_integer(Users::CreatedAt))
                    .col(big_integer(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccessKeys::Table)
                    .col(string(AccessKeys::Id).primary_key())
                    .col(string(AccessKeys::Kind))
                    .col(string(AccessKeys::Key))
                    .col(string(AccessKeys::Name))
                    .col(string(AccessKeys::Description))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("access_keys_kind_key")
                    .table(AccessKeys::Table)
                    .col(AccessKeys::Kind)
                    .col(AccessKeys::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RolePermissions::Table)
                    .col(string(RolePermissions::RoleId))
                    .col(string(RolePermissions::PermissionId))
                    .primary_key(Index::create().col(RolePermissions::RoleId).col(RolePermissions::PermissionId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FeatureFlags::Table)
                    .col(string(FeatureFlags::Key).primary_key())
                    .col(string(FeatureFlags::Name))
                    .col(string(FeatureFlags::Description))
                    .col(string(FeatureFlags::FlagType))
                    .col(json(FeatureFlags::DefaultValue))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrganizationUsers::Table)
                    .col(string(OrganizationUsers::OrgCode))
                    .col(string(OrganizationUsers::UserId))
                    .col(big_integer(OrganizationUsers::JoinedAt))
                    .primary_key(Index::create().col(OrganizationUsers::OrgCode).col(OrganizationUsers::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrganizationUserGrants::Table)
                    .col(string(OrganizationUserGrants::OrgCode))
                    .col(string(OrganizationUserGrants::UserId))
                    .col(string(OrganizationUserGrants::Grant))
                    .col(string(OrganizationUserGrants::GrantId))
                    .primary_key(
                        Index::create()
                            .col(OrganizationUserGrants::OrgCode)
                            .col(OrganizationUserGrants::UserId)
                            .col(OrganizationUserGrants::Grant)
                            .col(OrganizationUserGrants::GrantId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrganizationProperties::Table)
                    .col(string(OrganizationProperties::OrgCode))
                    .col(string(OrganizationProperties::PropertyId))
                    .col(text(OrganizationProperties::Value))
                    .primary_key(
                        Index::create().col(OrganizationProperties::OrgCode).col(OrganizationProperties::PropertyId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OrganizationProperties::Table.into_iden(),
            OrganizationUserGrants::Table.into_iden(),
            OrganizationUsers::Table.into_iden(),
            FeatureFlags::Table.into_iden(),
            RolePermissions::Table.into_iden(),
            AccessKeys::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
