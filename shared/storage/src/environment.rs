//! Environment variables for workflows (`kinde.env`). Encryption of secret values happens in
//! auth-service, which holds the key; this module stores what it is given.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{entity::environment_variable, now_ms, Result, StorageError, Store};

impl Store {
    /// `stored_value` is already encrypted when `is_secret`.
    pub async fn create_environment_variable(
        &self,
        key: &str,
        stored_value: &str,
        is_secret: bool,
    ) -> Result<environment_variable::Model> {
        let txn = self.begin_write().await?;
        if environment_variable::Entity::find()
            .filter(environment_variable::Column::Key.eq(key))
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(StorageError::Conflict(format!("an environment variable with key {key:?} already exists")));
        }
        let now = now_ms();
        let created = environment_variable::ActiveModel {
            id: Set(format!("env_var_{}", crate::queries::random_id())),
            key: Set(key.to_owned()),
            value: Set(stored_value.to_owned()),
            is_secret: Set(is_secret),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn list_environment_variables(&self) -> Result<Vec<environment_variable::Model>> {
        Ok(environment_variable::Entity::find().order_by_asc(environment_variable::Column::Key).all(&self.db).await?)
    }
}
