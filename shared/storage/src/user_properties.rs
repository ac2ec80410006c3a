//! A user's values for `usr` properties.

use sea_orm::{sea_query::OnConflict, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::{
    entity::{
        property::{self, PropertyContext},
        user, user_property,
    },
    not_found, Result, Store,
};

impl Store {
    /// Sets a user's values for `usr` properties, by property key: all of them or none.
    pub async fn set_user_properties(&self, user_id: &str, values: &[(String, String)]) -> Result<()> {
        let txn = self.begin_write().await?;
        user::Entity::find_by_id(user_id).one(&txn).await?.ok_or_else(|| not_found("user", user_id))?;
        for (key, value) in values {
            let property = Store::property_in_context(&txn, key, PropertyContext::User, "user").await?;
            user_property::Entity::insert(user_property::ActiveModel {
                user_id: Set(user_id.to_owned()),
                property_id: Set(property.id),
                value: Set(value.clone()),
            })
            .on_conflict(
                OnConflict::columns([user_property::Column::UserId, user_property::Column::PropertyId])
                    .update_column(user_property::Column::Value)
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Every `usr` property with the user's value (empty when unset).
    pub async fn user_properties(&self, user_id: &str) -> Result<Vec<(property::Model, String)>> {
        user::Entity::find_by_id(user_id).one(&self.db).await?.ok_or_else(|| not_found("user", user_id))?;
        let values = user_property::Entity::find()
            .filter(user_property::Column::UserId.eq(user_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.property_id, row.value))
            .collect();
        self.properties_with_values(PropertyContext::User, values).await
    }
}
