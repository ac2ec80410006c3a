//! Properties, organizations and environment variables (workflow runtime: `createKindeAPI`,
//! `kinde.env`).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

// Tables of earlier migrations this one refers to.
#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000002_properties_organizations_environment"
    }
}

#[derive(DeriveIden)]
enum Properties {
    Table,
    Id,
    Key,
    Name,
    Description,
    Context,
    IsPrivate,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApplicationProperties {
    Table,
    ApplicationId,
    PropertyId,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApplicationTokenProperties {
    Table,
    ApplicationId,
    PropertyId,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Code,
    Name,
    ExternalId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WorkflowDeploymentsSourceMap {
    #[sea_orm(iden = "workflow_deployments")]
    Table,
    SourceMap,
    TimeoutMs,
}

#[derive(DeriveIden)]
enum ApplicationUrls {
    Table,
    ApplicationId,
    Kind,
    Url,
}

#[derive(DeriveIden)]
enum WorkflowRunsWorker {
    #[sea_orm(iden = "workflow_runs")]
    Table,
    WorkerId,
}

#[derive(DeriveIden)]
enum ApplicationsTokenLifetime {
    #[sea_orm(iden = "applications")]
    Table,
    AccessTokenLifetime,
}

#[derive(DeriveIden)]
enum EnvironmentVariables {
    Table,
    Id,
    Key,
    Value,
    IsSecret,
    CreatedAt,
    UpdatedAt,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Properties::Table)
                    .col(string(Properties::Id).primary_key())
                    .col(string(Properties::Key).unique_key())
                    .col(string(Properties::Name))
                    .col(string(Properties::Description))
                    .col(string(Properties::Context))
                    .col(boolean(Properties::IsPrivate))
                    .col(big_integer(Properties::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApplicationProperties::Table)
                    .col(string(ApplicationProperties::ApplicationId))
                    .col(string(ApplicationProperties::PropertyId))
                    .col(text(ApplicationProperties::Value))
                    .col(big_integer(ApplicationProperties::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(ApplicationProperties::ApplicationId)
                            .col(ApplicationProperties::PropertyId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApplicationProperties::Table, ApplicationProperties::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApplicationProperties::Table, ApplicationProperties::PropertyId)
                            .to(Properties::Table, Properties::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApplicationTokenProperties::Table)
                    .col(string(ApplicationTokenProperties::ApplicationId))
                    .col(string(ApplicationTokenProperties::PropertyId))
                    .primary_key(
                        Index::create()
                            .col(ApplicationTokenProperties::ApplicationId)
                            .col(ApplicationTokenProperties::PropertyId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApplicationTokenProperties::Table, ApplicationTokenProperties::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApplicationTokenProperties::Table, ApplicationTokenProperties::PropertyId)
                            .to(Properties::Table, Properties::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(string(Organizations::Code).primary_key())
                    .col(string(Organizations::Name))
                    .col(string_null(Organizations::ExternalId))
                    .col(big_integer(Organizations::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EnvironmentVariables::Table)
                    .col(string(EnvironmentVariables::Id).primary_key())
                    .col(string(EnvironmentVariables::Key).unique_key())
                    .col(text(EnvironmentVariables::Value))
                    .col(boolean(EnvironmentVariables::IsSecret))
                    .col(big_integer(EnvironmentVariables::CreatedAt))
                    .col(big_integer(EnvironmentVariables::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WorkflowDeploymentsSourceMap::Table)
                    .add_column(text_null(WorkflowDeploymentsSourceMap::SourceMap))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WorkflowDeploymentsSourceMap::Table)
                    .add_column(big_integer_null(WorkflowDeploymentsSourceMap::TimeoutMs))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WorkflowRunsWorker::Table)
                    .add_column(string(WorkflowRunsWorker::WorkerId).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApplicationUrls::Table)
                    .col(string(ApplicationUrls::ApplicationId))
                    .col(string(ApplicationUrls::Kind))
                    .col(string(ApplicationUrls::Url))
                    .primary_key(
                        Index::create()
                            .col(ApplicationUrls::ApplicationId)
                            .col(ApplicationUrls::Kind)
                            .col(ApplicationUrls::Url),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApplicationsTokenLifetime::Table)
                    .add_column(big_integer_null(ApplicationsTokenLifetime::AccessTokenLifetime))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ApplicationsTokenLifetime::Table)
                    .drop_column(ApplicationsTokenLifetime::AccessTokenLifetime)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(WorkflowRunsWorker::Table).drop_column(WorkflowRunsWorker::WorkerId).to_owned(),
            )
            .await?;
        for column in [WorkflowDeploymentsSourceMap::TimeoutMs, WorkflowDeploymentsSourceMap::SourceMap] {
            manager
                .alter_table(Table::alter().table(WorkflowDeploymentsSourceMap::Table).drop_column(column).to_owned())
                .await?;
        }
        for table in [
            ApplicationUrls::Table.into_iden(),
            EnvironmentVariables::Table.into_iden(),
            Organizations::Table.into_iden(),
            ApplicationTokenProperties::Table.into_iden(),
            ApplicationProperties::Table.into_iden(),
            Properties::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
