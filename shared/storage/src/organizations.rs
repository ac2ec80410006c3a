//! Organizations (tenants), paginated by code.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{entity::organization, now_ms, Result, Store};

impl Store {
    pub async fn create_organization(&self, name: &str, external_id: Option<String>) -> Result<organization::Model> {
        // Kinde's shape: `org_` and 11 hex digits.
        let code = format!("org_{}", &crate::queries::random_id()[..11]);
        Ok(organization::ActiveModel {
            code: Set(code),
            name: Set(name.to_owned()),
            external_id: Set(external_id),
            created_at: Set(now_ms()),
        }
        .insert(&self.db)
        .await?)
    }

    pub async fn find_organization(&self, code: &str) -> Result<Option<organization::Model>> {
        Ok(organization::Entity::find_by_id(code).one(&self.db).await?)
    }

    /// Up to `page_size` organizations with codes after `after`, in code order.
    pub async fn list_organizations(&self, after: Option<&str>, page_size: u64) -> Result<Vec<organization::Model>> {
        let mut query = organization::Entity::find().order_by_asc(organization::Column::Code);
        if let Some(after) = after {
            query = query.filter(organization::Column::Code.gt(after));
        }
        Ok(query.limit(page_size).all(&self.db).await?)
    }
}
