use sea_orm::entity::prelude::*;

/// A custom property definition (Kinde's `properties`): users, organizations or applications
/// carry values for it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "properties")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub key: String,
    pub name: String,
    pub description: String,
    pub context: PropertyContext,
    pub is_private: bool,
    pub created_at: i64,
}

/// What carries a property's values, by Kinde's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum PropertyContext {
    #[sea_orm(string_value = "usr")]
    User,
    #[sea_orm(string_value = "org")]
    Organization,
    #[sea_orm(string_value = "app")]
    Application,
}

impl PropertyContext {
    pub const ALL: [PropertyContext; 3] =
        [PropertyContext::User, PropertyContext::Organization, PropertyContext::Application];

    pub fn as_str(self) -> &'static str {
        match self {
            PropertyContext::User => "usr",
            PropertyContext::Organization => "org",
            PropertyContext::Application => "app",
        }
    }

    pub fn parse(name: &str) -> Option<PropertyContext> {
        PropertyContext::ALL.into_iter().find(|context| context.as_str() == name)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
