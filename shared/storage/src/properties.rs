//! Property definitions (for applications, organizations and users) and the lists of their
//! values.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    entity::{application_property, application_token_property, organization_property, property, user_property},
    not_found, now_ms, random_id, unique_or_db, Result, StorageError, Store,
};

pub struct NewProperty {
    pub key: String,
    pub name: String,
    pub description: String,
    pub context: property::PropertyContext,
    pub is_private: bool,
}

impl Store {
    pub async fn create_property(&self, new: NewProperty) -> Result<property::Model> {
        let txn = self.begin_write().await?;
        let conflict = format!("a property with key {:?} already exists", new.key);
        if property::Entity::find().filter(property::Column::Key.eq(&new.key)).one(&txn).await?.is_some() {
            return Err(StorageError::Conflict(conflict));
        }
        let created = property::ActiveModel {
            id: Set(format!("prop_{}", random_id())),
            key: Set(new.key),
            name: Set(new.name),
            description: Set(new.description),
            context: Set(new.context),
            is_private: Set(new.is_private),
            created_at: Set(now_ms()),
        }
        .insert(&txn)
        .await
        .map_err(unique_or_db(|| conflict))?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn list_properties(&self) -> Result<Vec<property::Model>> {
        Ok(property::Entity::find().order_by_asc(property::Column::Key).all(&self.db).await?)
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
        organization_property::Entity::delete_many()
            .filter(organization_property::Column::PropertyId.eq(id))
            .exec(&txn)
            .await?;
        user_property::Entity::delete_many().filter(user_property::Column::PropertyId.eq(id)).exec(&txn).await?;
        property::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The property `key`, which must be of `context` to hold a value of this kind of holder
    /// (`holders`: "application", "organization", "user").
    pub(crate) async fn property_in_context(
        txn: &impl sea_orm::ConnectionTrait,
        key: &str,
        context: property::PropertyContext,
        holders: &str,
    ) -> Result<property::Model> {
        let property = property::Entity::find()
            .filter(property::Column::Key.eq(key))
            .one(txn)
            .await?
            .ok_or_else(|| not_found("property", key))?;
        if property.context != context {
            return Err(StorageError::Conflict(format!(
                "property {key:?} has context {:?}; only {:?} properties hold {holders} values",
                property.context.as_str(),
                context.as_str()
            )));
        }
        Ok(property)
    }

    /// Every property of `context` with its value among `values` (`(property id, value)`), or
    /// an empty value.
    pub(crate) async fn properties_with_values(
        &self,
        context: property::PropertyContext,
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
}
