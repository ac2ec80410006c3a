//! Environment variables (`kinde.env`); secret values arrive here already encrypted.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{entity::environment_variable, not_found, now_ms, random_id, unique_or_db, Result, StorageError, Store};

/// Fields of an environment variable to change; `None` leaves one as it is.
#[derive(Debug, Default)]
pub struct VariableChange {
    pub key: Option<String>,
    /// Already encrypted when the variable is (or becomes) secret.
    pub stored_value: Option<String>,
    pub is_secret: Option<bool>,
}

impl Store {
    /// `stored_value` is already encrypted when `is_secret`.
    pub async fn create_environment_variable(
        &self,
        key: &str,
        stored_value: &str,
        is_secret: bool,
    ) -> Result<environment_variable::Model> {
        let txn = self.begin_write().await?;
        let conflict = || taken_key(key);
        if environment_variable::Entity::find()
            .filter(environment_variable::Column::Key.eq(key))
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(StorageError::Conflict(conflict()));
        }
        let now = now_ms();
        let created = environment_variable::ActiveModel {
            id: Set(format!("env_var_{}", random_id())),
            key: Set(key.to_owned()),
            value: Set(stored_value.to_owned()),
            is_secret: Set(is_secret),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(unique_or_db(conflict))?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn list_environment_variables(&self) -> Result<Vec<environment_variable::Model>> {
        Ok(environment_variable::Entity::find().order_by_asc(environment_variable::Column::Key).all(&self.db).await?)
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
                return Err(StorageError::Conflict(taken_key(key)));
            }
        }
        // NOTE: a unique index refuses the new key only when one is given.
        let conflict = change.key.as_deref().map(taken_key).unwrap_or_default();
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
        let updated = changed.update(&txn).await.map_err(unique_or_db(|| conflict))?;
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

fn taken_key(key: &str) -> String {
    format!("an environment variable with key {key:?} already exists")
}
