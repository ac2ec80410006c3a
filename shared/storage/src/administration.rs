//! Updates and deletes behind the management API. Every delete removes what depends on the row
//! in the same transaction (SQLite does not enforce foreign keys on every connection).

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::{
    entity::{
        api, api_application, api_application_scope, api_scope, application, application_property,
        application_token_property, application_url, environment_variable, organization, property,
    },
    now_ms, Result, StorageError, Store,
};

/// Fields of an environment variable to change; `None` leaves one as it is.
#[derive(Debug, Default)]
pub struct VariableChange {
    pub key: Option<String>,
    /// Already encrypted when the variable is (or becomes) secret.
    pub stored_value: Option<String>,
    pub is_secret: Option<bool>,
}

fn not_found(what: &'static str, id: &str) -> StorageError {
    StorageError::NotFound { what, id: id.to_owned() }
}

impl Store {
    pub async fn rename_application(&self, id: &str, name: &str) -> Result<application::Model> {
        let found =
            application::Entity::find_by_id(id).one(&self.db).await?.ok_or_else(|| not_found("application", id))?;
        let mut changed: application::ActiveModel = found.into();
        changed.name = Set(name.to_owned());
        Ok(changed.update(&self.db).await?)
    }

    pub async fn delete_application(&self, id: &str) -> Result<()> {
        let txn = self.begin_write().await?;
        application::Entity::find_by_id(id).one(&txn).await?.ok_or_else(|| not_found("application", id))?;
        api_application_scope::Entity::delete_many()
            .filter(api_application_scope::Column::ApplicationId.eq(id))
            .exec(&txn)
            .await?;
        api_application::Entity::delete_many().filter(api_application::Column::ApplicationId.eq(id)).exec(&txn).await?;
        application_property::Entity::delete_many()
            .filter(application_property::Column::ApplicationId.eq(id))
            .exec(&txn)
            .await?;
        application_token_property::Entity::delete_many()
            .filter(application_token_property::Column::ApplicationId.eq(id))
            .exec(&txn)
            .await?;
        application_url::Entity::delete_many().filter(application_url::Column::ApplicationId.eq(id)).exec(&txn).await?;
        application::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Deletes an API with its scopes and authorizations. The management API cannot be deleted.
    pub async fn delete_api(&self, id: &str) -> Result<()> {
        let txn = self.begin_write().await?;
        let found = api::Entity::find_by_id(id).one(&txn).await?.ok_or_else(|| not_found("API", id))?;
        if found.is_management_api {
            return Err(StorageError::Conflict("the management API cannot be deleted".to_owned()));
        }
        api_application_scope::Entity::delete_many()
            .filter(api_application_scope::Column::ApiId.eq(id))
            .exec(&txn)
            .await?;
        api_application::Entity::delete_many().filter(api_application::Column::ApiId.eq(id)).exec(&txn).await?;
        api_scope::Entity::delete_many().filter(api_scope::Column::ApiId.eq(id)).exec(&txn).await?;
        api::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn create_api_scope(&self, api_id: &str, key: &str, description: &str) -> Result<api_scope::Model> {
        let txn = self.begin_write().await?;
        api::Entity::find_by_id(api_id).one(&txn).await?.ok_or_else(|| not_found("API", api_id))?;
        let exists = api_scope::Entity::find()
            .filter(api_scope::Column::ApiId.eq(api_id))
            .filter(api_scope::Column::Key.eq(key))
            .one(&txn)
            .await?;
        if exists.is_some() {
            return Err(StorageError::Conflict(format!("the API already has a scope {key:?}")));
        }
        let scope = api_scope::ActiveModel {
            id: Set(format!("scope_{}", crate::queries::random_id())),
            api_id: Set(api_id.to_owned()),
            key: Set(key.to_owned()),
            description: Set(description.to_owned()),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(scope)
    }

    pub async fn update_property(
        &self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        is_private: Option<bool>,
    ) -> Result<property::Model> {
        let found = property::Entity::find_by_id(id).one(&self.db).await?.ok_or_else(|| not_found("property", id))?;
        let mut changed: property::ActiveModel = found.into();
        if let Some(name) = name {
            changed.name = Set(name);
        }
        if let Some(description) = description {
            changed.description = Set(description);
        }
        if let Some(is_private) = is_private {
            changed.is_private = Set(is_private);
        }
        Ok(changed.update(&self.db).await?)
    }

    pub async fn delete_property(&self, id: &str) -> Result<()> {
        let txn = self.begin_write().await?;
        property::Entity::find_by_id(id).one(&txn).await?.ok_or_else(|| not_found("property", id))?;
        application_property::Entity::delete_many()
            .filter(application_property::Column::PropertyId.eq(id))
            .exec(&txn)
            .await?;
        application_token_property::Entity::delete_many()
            .filter(application_token_property::Column::PropertyId.eq(id))
            .exec(&txn)
            .await?;
        property::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn update_organization(
        &self,
        code: &str,
        name: Option<String>,
        external_id: Option<String>,
    ) -> Result<organization::Model> {
        let found = organization::Entity::find_by_id(code)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found("organization", code))?;
        let mut changed: organization::ActiveModel = found.into();
        if let Some(name) = name {
            changed.name = Set(name);
        }
        if let Some(external_id) = external_id {
            changed.external_id = Set(Some(external_id));
        }
        Ok(changed.update(&self.db).await?)
    }

    pub async fn delete_organization(&self, code: &str) -> Result<()> {
        let deleted = organization::Entity::delete_by_id(code).exec(&self.db).await?;
        if deleted.rows_affected == 0 {
            return Err(not_found("organization", code));
        }
        Ok(())
    }

    pub async fn find_environment_variable(&self, id: &str) -> Result<Option<environment_variable::Model>> {
        Ok(environment_variable::Entity::find_by_id(id).one(&self.db).await?)
    }

    pub async fn update_environment_variable(
        &self,
        id: &str,
        change: VariableChange,
    ) -> Result<environment_variable::Model> {
        let txn = self.begin_write().await?;
        let found = environment_variable::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| not_found("environment variable", id))?;
        if let Some(key) = &change.key {
            let taken = environment_variable::Entity::find()
                .filter(environment_variable::Column::Key.eq(key))
                .filter(environment_variable::Column::Id.ne(id))
                .one(&txn)
                .await?;
            if taken.is_some() {
                return Err(StorageError::Conflict(format!("an environment variable with key {key:?} already exists")));
            }
        }
        let mut changed: environment_variable::ActiveModel = found.into();
        if let Some(key) = change.key {
            changed.key = Set(key);
        }
        if let Some(value) = change.stored_value {
            changed.value = Set(value);
        }
        if let Some(is_secret) = change.is_secret {
            changed.is_secret = Set(is_secret);
        }
        changed.updated_at = Set(now_ms());
        let updated = changed.update(&txn).await?;
        txn.commit().await?;
        Ok(updated)
    }

    pub async fn delete_environment_variable(&self, id: &str) -> Result<()> {
        let deleted = environment_variable::Entity::delete_by_id(id).exec(&self.db).await?;
        if deleted.rows_affected == 0 {
            return Err(not_found("environment variable", id));
        }
        Ok(())
    }
}

/// How a change to an application's URLs applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlChange {
    Add,
    Replace,
    Remove,
}

impl Store {
    /// An application's registered URLs of `kind` (`redirect` or `logout`), sorted.
    pub async fn application_urls(&self, application_id: &str, kind: &str) -> Result<Vec<String>> {
        let mut urls: Vec<String> = application_url::Entity::find()
            .filter(application_url::Column::ApplicationId.eq(application_id))
            .filter(application_url::Column::Kind.eq(kind))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| row.url)
            .collect();
        urls.sort();
        Ok(urls)
    }

    pub async fn change_application_urls(
        &self,
        application_id: &str,
        kind: &str,
        urls: &[String],
        change: UrlChange,
    ) -> Result<()> {
        let txn = self.begin_write().await?;
        application::Entity::find_by_id(application_id)
            .one(&txn)
            .await?
            .ok_or_else(|| not_found("application", application_id))?;
        let of_application = || {
            application_url::Entity::delete_many()
                .filter(application_url::Column::ApplicationId.eq(application_id))
                .filter(application_url::Column::Kind.eq(kind))
        };
        match change {
            UrlChange::Replace => {
                of_application().exec(&txn).await?;
            }
            UrlChange::Remove => {
                of_application().filter(application_url::Column::Url.is_in(urls.to_vec())).exec(&txn).await?;
            }
            UrlChange::Add => {}
        }
        if change != UrlChange::Remove {
            for url in urls {
                let row = application_url::ActiveModel {
                    application_id: Set(application_id.to_owned()),
                    kind: Set(kind.to_owned()),
                    url: Set(url.clone()),
                };
                let key = [
                    application_url::Column::ApplicationId,
                    application_url::Column::Kind,
                    application_url::Column::Url,
                ];
                crate::queries::insert_unless_present(&txn, row, key).await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// Replaces an application's client secret hash: the old secret stops working at once.
    pub async fn set_client_secret_hash(&self, application_id: &str, hash: &str) -> Result<()> {
        let found = application::Entity::find_by_id(application_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found("application", application_id))?;
        let mut changed: application::ActiveModel = found.into();
        changed.client_secret_hash = Set(Some(hash.to_owned()));
        changed.update(&self.db).await?;
        Ok(())
    }
}
