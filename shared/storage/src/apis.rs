//! APIs (audiences), their scopes, and which applications are authorized for them with which
//! scopes; the management API itself is one of them.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    entity::{api, api_application, api_application_scope, api_scope, application},
    insert_unless_present, not_found, now_ms, random_id, unique_or_db, Result, StorageError, Store,
};

/// What [`Store::bootstrap_management_api`] makes sure exists.
pub struct ManagementBootstrap<'a> {
    pub audience: &'a str,
    pub scopes: &'a [&'a str],
    pub admin_client_id: &'a str,
    pub admin_secret_hash: &'a str,
}

/// Authorizes an application for an API; already authorized is fine.
async fn insert_authorization(db: &impl ConnectionTrait, api_id: &str, application_id: &str) -> Result<()> {
    let row = api_application::ActiveModel {
        api_id: Set(api_id.to_owned()),
        application_id: Set(application_id.to_owned()),
        created_at: Set(now_ms()),
    };
    insert_unless_present(db, row, [api_application::Column::ApiId, api_application::Column::ApplicationId]).await
}

/// Grants a scope to an authorized application; already granted is fine.
async fn insert_grant(db: &impl ConnectionTrait, api_id: &str, application_id: &str, scope_id: String) -> Result<()> {
    let row = api_application_scope::ActiveModel {
        api_id: Set(api_id.to_owned()),
        application_id: Set(application_id.to_owned()),
        scope_id: Set(scope_id),
    };
    let key = [
        api_application_scope::Column::ApiId,
        api_application_scope::Column::ApplicationId,
        api_application_scope::Column::ScopeId,
    ];
    insert_unless_present(db, row, key).await
}

impl Store {
    /// Creates the management API (`<issuer>/api`) with every scope, and the admin application
    /// authorized for it with all of them. Idempotent; the admin secret is replaced when it
    /// changed (credentials from the environment win).
    pub async fn bootstrap_management_api(&self, bootstrap: ManagementBootstrap<'_>) -> Result<()> {
        let txn = self.begin_write().await?;
        let now = now_ms();
        let api = match api::Entity::find().filter(api::Column::Audience.eq(bootstrap.audience)).one(&txn).await? {
            Some(api) => api,
            None => {
                api::ActiveModel {
                    id: Set(random_id()),
                    name: Set("claimflow management API".to_owned()),
                    audience: Set(bootstrap.audience.to_owned()),
                    is_management_api: Set(true),
                    created_at: Set(now),
                }
                .insert(&txn)
                .await?
            }
        };
        let existing: Vec<api_scope::Model> =
            api_scope::Entity::find().filter(api_scope::Column::ApiId.eq(&api.id)).all(&txn).await?;
        let mut scope_ids: Vec<String> = existing.iter().map(|scope| scope.id.clone()).collect();
        for key in bootstrap.scopes {
            if existing.iter().any(|scope| scope.key == *key) {
                continue;
            }
            let scope = api_scope::ActiveModel {
                id: Set(random_id()),
                api_id: Set(api.id.clone()),
                key: Set((*key).to_owned()),
                description: Set(String::new()),
            }
            .insert(&txn)
            .await?;
            scope_ids.push(scope.id);
        }
        match application::Entity::find_by_id(bootstrap.admin_client_id).one(&txn).await? {
            Some(admin) if admin.client_secret_hash.as_deref() == Some(bootstrap.admin_secret_hash) => {}
            Some(admin) => {
                let mut admin: application::ActiveModel = admin.into();
                admin.client_secret_hash = Set(Some(bootstrap.admin_secret_hash.to_owned()));
                admin.update(&txn).await?;
            }
            None => {
                application::ActiveModel {
                    id: Set(bootstrap.admin_client_id.to_owned()),
                    name: Set("claimflow admin".to_owned()),
                    app_type: Set(application::AppType::M2m),
                    client_secret_hash: Set(Some(bootstrap.admin_secret_hash.to_owned())),
                    created_at: Set(now),
                    access_token_lifetime: Set(None),
                    allow_signup: Set(false),
                }
                .insert(&txn)
                .await?;
            }
        }
        insert_authorization(&txn, &api.id, bootstrap.admin_client_id).await?;
        for scope_id in scope_ids {
            insert_grant(&txn, &api.id, bootstrap.admin_client_id, scope_id).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    pub async fn create_api(&self, name: &str, audience: &str) -> Result<api::Model> {
        let txn = self.begin_write().await?;
        if let Some(existing) = api::Entity::find().filter(api::Column::Audience.eq(audience)).one(&txn).await? {
            return Err(StorageError::Conflict(format!(
                "audience {audience:?} is already used by API {}",
                existing.id
            )));
        }
        let api = api::ActiveModel {
            id: Set(random_id()),
            name: Set(name.to_owned()),
            audience: Set(audience.to_owned()),
            is_management_api: Set(false),
            created_at: Set(now_ms()),
        }
        .insert(&txn)
        .await
        .map_err(unique_or_db(|| format!("audience {audience:?} is already used by another API")))?;
        txn.commit().await?;
        Ok(api)
    }

    pub async fn list_apis(&self) -> Result<Vec<api::Model>> {
        Ok(api::Entity::find().order_by_asc(api::Column::CreatedAt).all(&self.db).await?)
    }

    pub async fn find_api(&self, id: &str) -> Result<Option<api::Model>> {
        Ok(api::Entity::find_by_id(id).one(&self.db).await?)
    }

    pub async fn find_api_by_audience(&self, audience: &str) -> Result<Option<api::Model>> {
        Ok(api::Entity::find().filter(api::Column::Audience.eq(audience)).one(&self.db).await?)
    }

    pub async fn list_api_scopes(&self, api_id: &str) -> Result<Vec<api_scope::Model>> {
        Ok(api_scope::Entity::find()
            .filter(api_scope::Column::ApiId.eq(api_id))
            .order_by_asc(api_scope::Column::Key)
            .all(&self.db)
            .await?)
    }

    /// Authorizes and revokes applications for an API in one transaction: an unknown
    /// application anywhere in the list changes nothing.
    pub async fn set_api_applications(&self, api_id: &str, authorize: &[String], revoke: &[String]) -> Result<()> {
        let txn = self.begin_write().await?;
        for application_id in authorize.iter().chain(revoke) {
            if application::Entity::find_by_id(application_id).one(&txn).await?.is_none() {
                return Err(StorageError::NotFound { what: "application", id: application_id.clone() });
            }
        }
        for application_id in authorize {
            insert_authorization(&txn, api_id, application_id).await?;
        }
        for application_id in revoke {
            api_application_scope::Entity::delete_many()
                .filter(api_application_scope::Column::ApiId.eq(api_id))
                .filter(api_application_scope::Column::ApplicationId.eq(application_id))
                .exec(&txn)
                .await?;
            api_application::Entity::delete_many()
                .filter(api_application::Column::ApiId.eq(api_id))
                .filter(api_application::Column::ApplicationId.eq(application_id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The scopes granted to an application for an API, or `None` when it is not authorized.
    pub async fn granted_scopes(&self, api_id: &str, application_id: &str) -> Result<Option<Vec<String>>> {
        let authorized =
            api_application::Entity::find_by_id((api_id.to_owned(), application_id.to_owned())).one(&self.db).await?;
        if authorized.is_none() {
            return Ok(None);
        }
        let keys: Vec<String> = api_scope::Entity::find()
            .inner_join(api_application_scope::Entity)
            .filter(api_application_scope::Column::ApiId.eq(api_id))
            .filter(api_application_scope::Column::ApplicationId.eq(application_id))
            .order_by_asc(api_scope::Column::Key)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|scope| scope.key)
            .collect();
        Ok(Some(keys))
    }

    /// Grants one of an API's scopes to an application already authorized for it.
    pub async fn grant_scope(&self, api_id: &str, application_id: &str, scope_id: &str) -> Result<()> {
        let scope = api_scope::Entity::find_by_id(scope_id)
            .one(&self.db)
            .await?
            .filter(|scope| scope.api_id == api_id)
            .ok_or_else(|| StorageError::NotFound { what: "scope", id: scope_id.to_owned() })?;
        api_application::Entity::find_by_id((api_id.to_owned(), application_id.to_owned()))
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                StorageError::Conflict(format!(
                    "application {application_id} is not authorized for API {api_id}; authorize it first"
                ))
            })?;
        insert_grant(&self.db, api_id, application_id, scope.id).await
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
        let conflict = || format!("the API already has a scope {key:?}");
        let exists = api_scope::Entity::find()
            .filter(api_scope::Column::ApiId.eq(api_id))
            .filter(api_scope::Column::Key.eq(key))
            .one(&txn)
            .await?;
        if exists.is_some() {
            return Err(StorageError::Conflict(conflict()));
        }
        let scope = api_scope::ActiveModel {
            id: Set(format!("scope_{}", random_id())),
            api_id: Set(api_id.to_owned()),
            key: Set(key.to_owned()),
            description: Set(description.to_owned()),
        }
        .insert(&txn)
        .await
        .map_err(unique_or_db(conflict))?;
        txn.commit().await?;
        Ok(scope)
    }
}
