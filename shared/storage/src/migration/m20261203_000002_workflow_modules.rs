//! The project files a workflow imports, deployed with it.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000002_workflow_modules"
    }
}

#[derive(DeriveIden)]
enum WorkflowDeployments {
    Table,
    Modules,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WorkflowDeployments::Table)
                    .add_column(json_null(WorkflowDeployments::Modules))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(WorkflowDeployments::Table).drop_column(WorkflowDeployments::Modules).to_owned(),
            )
            .await
    }
}
