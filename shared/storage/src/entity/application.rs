use sea_orm::entity::prelude::*;

/// The kinds of application, by Kinde's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum AppType {
    /// Machine to machine: `client_credentials`, with a secret.
    #[sea_orm(string_value = "m2m")]
    M2m,
    /// A regular web application: users sign in; confidential, with a secret.
    #[sea_orm(string_value = "reg")]
    Reg,
    /// A single-page application: users sign in; public, PKCE instead of a secret.
    #[sea_orm(string_value = "spa")]
    Spa,
}

impl AppType {
    pub fn parse(name: &str) -> Option<AppType> {
        match name {
            "m2m" => Some(AppType::M2m),
            "reg" => Some(AppType::Reg),
            "spa" => Some(AppType::Spa),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AppType::M2m => "m2m",
            AppType::Reg => "reg",
            AppType::Spa => "spa",
        }
    }

    /// Whether people sign in to it (the user grants and the login page).
    pub fn signs_users_in(self) -> bool {
        matches!(self, AppType::Reg | AppType::Spa)
    }
}

impl std::fmt::Display for AppType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth client. As in Kinde, an application's id is its client id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub app_type: AppType,
    /// SHA-256 of the client secret, hex. Secrets are 256-bit random, so a fast hash is enough;
    /// what matters is that the database never holds the secret itself.
    pub client_secret_hash: Option<String>,
    pub created_at: i64,
    /// Seconds; the service default when unset.
    pub access_token_lifetime: Option<i64>,
    /// People may create an account on this application's sign-in page.
    pub allow_signup: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::api_application::Entity")]
    Authorizations,
    #[sea_orm(has_many = "super::application_url::Entity")]
    Urls,
}

impl Related<super::api_application::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Authorizations.def()
    }
}

impl Related<super::application_url::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Urls.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
