//! Schema migrations. Append new migrations, one file each with its `down`; never edit one
//! that has shipped.

mod m20261202_000001_token_audit;

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(Initial),
            Box::new(PropertiesOrganizationsEnvironment),
            Box::new(Identity),
            Box::new(SignIn),
            Box::new(m20261202_000001_token_audit::Migration),
        ]
    }
}

struct Initial;

impl MigrationName for Initial {
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
impl MigrationTrait for Initial {
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
}

/// Properties, organizations and environment variables (workflow runtime: `createKindeAPI`,
/// `kinde.env`).
struct PropertiesOrganizationsEnvironment;

impl MigrationName for PropertiesOrganizationsEnvironment {
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
impl MigrationTrait for PropertiesOrganizationsEnvironment {
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
}

/// Users, roles, permissions, feature flags and organization membership (user tokens).
struct Identity;

impl MigrationName for Identity {
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
impl MigrationTrait for Identity {
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
}

struct SignIn;

impl MigrationName for SignIn {
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
impl MigrationTrait for SignIn {
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
}
