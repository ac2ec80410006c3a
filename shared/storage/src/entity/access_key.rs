//! Roles and permissions: one shape, told apart by `kind`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kind: AccessKind,
    /// The name in tokens (`admin`, `read:orders`), unique per kind.
    pub key: String,
    pub name: String,
    pub description: String,
}

/// Roles and permissions, told apart in one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum AccessKind {
    #[sea_orm(string_value = "role")]
    Role,
    #[sea_orm(string_value = "permission")]
    Permission,
}

impl AccessKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKind::Role => "role",
            AccessKind::Permission => "permission",
        }
    }

    pub(crate) fn id_prefix(self) -> &'static str {
        match self {
            AccessKind::Role => "role_",
            AccessKind::Permission => "perm_",
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
