//! The first schema: applications, APIs with scopes and grants, workflow deployments and runs.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_initial"
    }
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    Name,
    AppType,
    ClientSecretHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Apis {
    Table,
    Id,
    Name,
    Audience,
    IsManagementApi,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiScopes {
    Table,
    Id,
    ApiId,
    Key,
    Description,
}

#[derive(DeriveIden)]
enum ApiApplications {
    Table,
    ApiId,
    ApplicationId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiApplicationScopes {
    Table,
    ApiId,
    ApplicationId,
    ScopeId,
}

#[derive(DeriveIden)]
enum WorkflowDeployments {
    Table,
    Id,
    WorkflowId,
    Version,
    Name,
    Trigger,
    Settings,
    SourcePath,
    Source,
    Code,
    CodeHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LiveWorkflows {
    Table,
    Trigger,
    DeploymentId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WorkflowRuns {
    Table,
    Id,
    EventId,
    DeploymentId,
    WorkflowId,
    Version,
    Trigger,
    Status,
    DurationUs,
    Logs,
    ClaimsSet,
    Rejected,
    Error,
    CreatedAt,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    .col(string(Applications::Id).primary_key())
                    .col(string(Applications::Name))
                    .col(string(Applications::AppType))
                    .col(string_null(Applications::ClientSecretHash))
                    .col(big_integer(Applications::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Apis::Table)
                    .col(string(Apis::Id).primary_key())
                    .col(string(Apis::Name))
                    .col(string(Apis::Audience).unique_key())
                    .col(boolean(Apis::IsManagementApi))
                    .col(big_integer(Apis::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiScopes::Table)
                    .col(string(ApiScopes::Id).primary_key())
                    .col(string(ApiScopes::ApiId))
                    .col(string(ApiScopes::Key))
                    .col(string(ApiScopes::Description))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiScopes::Table, ApiScopes::ApiId)
                            .to(Apis::Table, Apis::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_scopes_api_key")
                    .table(ApiScopes::Table)
                    .col(ApiScopes::ApiId)
                    .col(ApiScopes::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiApplications::Table)
                    .col(string(ApiApplications::ApiId))
                    .col(string(ApiApplications::ApplicationId))
                    .col(big_integer(ApiApplications::CreatedAt))
                    .primary_key(Index::create().col(ApiApplications::ApiId).col(ApiApplications::ApplicationId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiApplications::Table, ApiApplications::ApiId)
                            .to(Apis::Table, Apis::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiApplications::Table, ApiApplications::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiApplicationScopes::Table)
                    .col(string(ApiApplicationScopes::ApiId))
                    .col(string(ApiApplicationScopes::ApplicationId))
                    .col(string(ApiApplicationScopes::ScopeId))
                    .primary_key(
                        Index::create()
                            .col(ApiApplicationScopes::ApiId)
                            .col(ApiApplicationScopes::ApplicationId)
                            .col(ApiApplicationScopes::ScopeId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiApplicationScopes::Table, ApiApplicationScopes::ScopeId)
                            .to(ApiScopes::Table, ApiScopes::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiApplicationScopes::Table, ApiApplicationScopes::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WorkflowDeployments::Table)
                    .col(string(WorkflowDeployments::Id).primary_key())
                    .col(string(WorkflowDeployments::WorkflowId))
                    .col(integer(WorkflowDeployments::Version))
                    .col(string(WorkflowDeployments::Name))
                    .col(string(WorkflowDeployments::Trigger))
                    .col(json(WorkflowDeployments::Settings))
                    .col(string(WorkflowDeployments::SourcePath))
                    .col(text(WorkflowDeployments::Source))
                    .col(text(WorkflowDeployments::Code))
                    .col(string(WorkflowDeployments::CodeHash))
                    .col(big_integer(WorkflowDeployments::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("workflow_deployments_workflow_version")
                    .table(WorkflowDeployments::Table)
                    .col(WorkflowDeployments::WorkflowId)
                    .col(WorkflowDeployments::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("workflow_deployments_code_hash")
                    .table(WorkflowDeployments::Table)
                    .col(WorkflowDeployments::CodeHash)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LiveWorkflows::Table)
                    .col(string(LiveWorkflows::Trigger).primary_key())
                    .col(string(LiveWorkflows::DeploymentId))
                    .col(big_integer(LiveWorkflows::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LiveWorkflows::Table, LiveWorkflows::DeploymentId)
                            .to(WorkflowDeployments::Table, WorkflowDeployments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WorkflowRuns::Table)
                    .col(string(WorkflowRuns::Id).primary_key())
                    .col(string(WorkflowRuns::EventId))
                    .col(string(WorkflowRuns::DeploymentId))
                    .col(string(WorkflowRuns::WorkflowId))
                    .col(integer(WorkflowRuns::Version))
                    .col(string(WorkflowRuns::Trigger))
                    .col(string(WorkflowRuns::Status))
                    .col(big_integer(WorkflowRuns::DurationUs))
                    .col(json(WorkflowRuns::Logs))
                    .col(json(WorkflowRuns::ClaimsSet))
                    .col(json(WorkflowRuns::Rejected))
                    .col(text_null(WorkflowRuns::Error))
                    .col(big_integer(WorkflowRuns::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("workflow_runs_workflow_created")
                    .table(WorkflowRuns::Table)
                    .col(WorkflowRuns::WorkflowId)
                    .col(WorkflowRuns::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WorkflowRuns::Table.into_iden(),
            LiveWorkflows::Table.into_iden(),
            WorkflowDeployments::Table.into_iden(),
            ApiApplicationScopes::Table.into_iden(),
            ApiApplications::Table.into_iden(),
            ApiScopes::Table.into_iden(),
            Apis::Table.into_iden(),
            Applications::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
