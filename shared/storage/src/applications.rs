//! Applications: their secrets, redirect and logout URLs, property values and token settings.

use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use crate::{
    entity::{
        api_application, api_application_scope, application, application_property, application_token_property,
        application_url,
        property::{self, PropertyContext},
    },
    insert_unless_present, not_found, now_ms, random_id, Result, StorageError, Store,
};

/// How a change to an application's URLs applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlChange {
    Add,
    Replace,
    Remove,
}

/// An application's value for a property, with the property's definition.
#[derive(Debug, Clone)]
pub struct ApplicationPropertyValue {
    pub property: property::Model,
    pub value: String,
}

impl Store {
    pub async fn create_application(
        &self,
        name: &str,
        app_type: application::AppType,
        client_secret_hash: Option<String>,
    ) -> Result<application::Model> {
        Ok(application::ActiveModel {
            id: Set(random_id()),
            name: Set(name.to_owned()),
            app_type: Set(app_type),
            client_secret_hash: Set(client_secret_hash),
            created_at: Set(now_ms()),
            access_token_lifetime: Set(None),
            allow_signup: Set(false),
        }
        .insert(&self.db)
        .await?)
    }

    pub async fn find_application(&self, id: &str) -> Result<Option<application::Model>> {
        Ok(application::Entity::find_by_id(id).one(&self.db).await?)
    }

    pub async fn list_applications(&self) -> Result<Vec<application::Model>> {
        Ok(application::Entity::find().order_by_asc(application::Column::CreatedAt).all(&self.db).await?)
    }

    pub async fn set_access_token_lifetime(&self, application_id: &str, seconds: Option<i64>) -> Result<()> {
        let application = application::Entity::find_by_id(application_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| StorageError::NotFound { what: "application", id: application_id.to_owned() })?;
        let mut application: application::ActiveModel = application.into();
        application.access_token_lifetime = Set(seconds);
        application.update(&self.db).await?;
        Ok(())
    }

    pub async fn rename_application(&self, id: &str, name: &str) -> Result<application::Model> {
        let found =
            application::Entity::find_by_id(id).one(&self.db).await?.ok_or_else(|| not_found("application", id))?;
        let mut changed: application::ActiveModel = found.into();
        changed.name = Set(name.to_owned());
        Ok(changed.update(&self.db).await?)
    }

    pub async fn set_allow_signup(&self, id: &str, allow: bool) -> Result<()> {
        let found =
            application::Entity::find_by_id(id).one(&self.db).await?.ok_or_else(|| not_found("application", id))?;
        let mut changed: application::ActiveModel = found.into();
        changed.allow_signup = Set(allow);
        changed.update(&self.db).await?;
        Ok(())
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
                insert_unless_present(&txn, row, key).await?;
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

    /// Sets an application's value for an `app` property.
    pub async fn set_application_property(&self, application_id: &str, key: &str, value: &str) -> Result<()> {
        let txn = self.begin_write().await?;
        application::Entity::find_by_id(application_id)
            .one(&txn)
            .await?
            .ok_or_else(|| StorageError::NotFound { what: "application", id: application_id.to_owned() })?;
        let property = Store::property_in_context(&txn, key, PropertyContext::Application, "application").await?;
        application_property::Entity::insert(application_property::ActiveModel {
            application_id: Set(application_id.to_owned()),
            property_id: Set(property.id),
            value: Set(value.to_owned()),
            updated_at: Set(now_ms()),
        })
        .on_conflict(
            OnConflict::columns([
                application_property::Column::ApplicationId,
                application_property::Column::PropertyId,
            ])
            .update_columns([application_property::Column::Value, application_property::Column::UpdatedAt])
            .to_owned(),
        )
        .exec(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Every `app` property with the application's value (empty when unset).
    pub async fn application_properties(&self, application_id: &str) -> Result<Vec<ApplicationPropertyValue>> {
        let values = application_property::Entity::find()
            .filter(application_property::Column::ApplicationId.eq(application_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.property_id, row.value))
            .collect();
        Ok(self
            .properties_with_values(PropertyContext::Application, values)
            .await?
            .into_iter()
            .map(|(property, value)| ApplicationPropertyValue { property, value })
            .collect())
    }

    /// Replaces which properties go into the application's tokens, all or nothing.
    pub async fn set_token_properties(&self, application_id: &str, keys: &[String]) -> Result<()> {
        let txn = self.begin_write().await?;
        let mut ids = Vec::with_capacity(keys.len());
        for key in keys {
            let property = property::Entity::find()
                .filter(property::Column::Key.eq(key))
                .one(&txn)
                .await?
                .ok_or_else(|| StorageError::NotFound { what: "property", id: key.clone() })?;
            ids.push(property.id);
        }
        application_token_property::Entity::delete_many()
            .filter(application_token_property::Column::ApplicationId.eq(application_id))
            .exec(&txn)
            .await?;
        for property_id in ids {
            application_token_property::Entity::insert(application_token_property::ActiveModel {
                application_id: Set(application_id.to_owned()),
                property_id: Set(property_id),
            })
            .exec(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// `(key, value)` of the properties the application puts into its tokens and has a value for.
    pub async fn token_property_values(&self, application_id: &str) -> Result<Vec<(String, String)>> {
        let enabled: Vec<String> = application_token_property::Entity::find()
            .filter(application_token_property::Column::ApplicationId.eq(application_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| row.property_id)
            .collect();
        if enabled.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .application_properties(application_id)
            .await?
            .into_iter()
            .filter(|p| enabled.contains(&p.property.id) && !p.value.is_empty())
            .map(|p| (p.property.key, p.value))
            .collect())
    }

    /// Whether some application registered `url` as a sign-out return address.
    pub async fn is_registered_logout_url(&self, url: &str) -> Result<bool> {
        Ok(application_url::Entity::find()
            .filter(application_url::Column::Kind.eq("logout"))
            .filter(application_url::Column::Url.eq(url))
            .count(&self.db)
            .await?
            > 0)
    }
}
