//! Custom properties and applications' values for them.

use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::{
    entity::{application, application_property, application_token_property, property},
    now_ms, Result, StorageError, Store,
};

pub struct NewProperty {
    pub key: String,
    pub name: String,
    pub description: String,
    pub context: String,
    pub is_private: bool,
}

/// An application's value for a property, with the property's definition.
#[derive(Debug, Clone)]
pub struct ApplicationPropertyValue {
    pub property: property::Model,
    pub value: String,
}

impl Store {
    pub async fn create_property(&self, new: NewProperty) -> Result<property::Model> {
        let txn = self.begin_write().await?;
        if property::Entity::find().filter(property::Column::Key.eq(&new.key)).one(&txn).await?.is_some() {
            return Err(StorageError::Conflict(format!("a property with key {:?} already exists", new.key)));
        }
        let created = property::ActiveModel {
            id: Set(format!("prop_{}", crate::queries::random_id())),
            key: Set(new.key),
            name: Set(new.name),
            description: Set(new.description),
            context: Set(new.context),
            is_private: Set(new.is_private),
            created_at: Set(now_ms()),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn list_properties(&self) -> Result<Vec<property::Model>> {
        Ok(property::Entity::find().order_by_asc(property::Column::Key).all(&self.db).await?)
    }

    /// Sets an application's value for an `app` property.
    pub async fn set_application_property(&self, application_id: &str, key: &str, value: &str) -> Result<()> {
        let txn = self.begin_write().await?;
        application::Entity::find_by_id(application_id)
            .one(&txn)
            .await?
            .ok_or_else(|| StorageError::NotFound { what: "application", id: application_id.to_owned() })?;
        let property = property::Entity::find()
            .filter(property::Column::Key.eq(key))
            .one(&txn)
            .await?
            .ok_or_else(|| StorageError::NotFound { what: "property", id: key.to_owned() })?;
        if property.context != "app" {
            return Err(StorageError::Conflict(format!(
                "property {key:?} has context {:?}; only \"app\" properties hold application values",
                property.context
            )));
        }
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
            .properties_with_values("app", values)
            .await?
            .into_iter()
            .map(|(property, value)| ApplicationPropertyValue { property, value })
            .collect())
    }

    /// Every property of `context` with its value among `values` (`(property id, value)`), or
    /// an empty value.
    pub(crate) async fn properties_with_values(
        &self,
        context: &str,
        values: Vec<(String, String)>,
    ) -> Result<Vec<(property::Model, String)>> {
        let properties = property::Entity::find()
            .filter(property::Column::Context.eq(context))
            .order_by_asc(property::Column::Key)
            .all(&self.db)
            .await?;
        Ok(properties
            .into_iter()
            .map(|property| {
                let value =
                    values.iter().find(|(id, _)| *id == property.id).map(|(_, v)| v.clone()).unwrap_or_default();
                (property, value)
            })
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
}
