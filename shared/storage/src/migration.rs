//! Schema migrations: one file each, with its `down`. Append new migrations; never edit one that
//! has shipped.

mod m20261123_000001_initial;
mod m20261123_000002_properties_organizations_environment;
mod m20261124_000003_identity;
mod m20261130_000004_sign_in;
mod m20261202_000001_token_audit;
mod m20261203_000001_user_properties;
mod m20261203_000002_workflow_modules;
mod m20261203_000003_organization_handles;
mod m20261203_000004_signing_keys;
mod m20261204_000001_application_signup;
mod m20261204_000002_email_codes;
mod m20261207_000001_usernames_and_mfa;
mod m20261207_000002_mfa_exempt_roles;

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261123_000002_properties_organizations_environment::Migration),
            Box::new(m20261124_000003_identity::Migration),
            Box::new(m20261130_000004_sign_in::Migration),
            Box::new(m20261202_000001_token_audit::Migration),
            Box::new(m20261203_000001_user_properties::Migration),
            Box::new(m20261203_000002_workflow_modules::Migration),
            Box::new(m20261203_000003_organization_handles::Migration),
            Box::new(m20261203_000004_signing_keys::Migration),
            Box::new(m20261204_000001_application_signup::Migration),
            Box::new(m20261204_000002_email_codes::Migration),
            Box::new(m20261207_000001_usernames_and_mfa::Migration),
            Box::new(m20261207_000002_mfa_exempt_roles::Migration),
        ]
    }
}
