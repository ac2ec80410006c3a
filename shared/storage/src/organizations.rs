//! Organizations, their members with roles and permissions, and their property values.

use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::{
    entity::{
        access_key, organization, organization_property, organization_user, organization_user_grant,
        property::{self, PropertyContext},
        user,
    },
    insert_unless_present, not_found, now_ms, random_id, unique_or_db, AccessKind, Result, StorageError, Store,
};

/// A user to add to an organization, with role and permission keys.
pub struct NewMember {
    pub user_id: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

/// A member of an organization with the keys of what they hold there.
pub struct Member {
    pub user: user::Model,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

/// What makes a member's grant unique: the same role or permission is granted once.
const GRANT_KEY: [organization_user_grant::Column; 4] = [
    organization_user_grant::Column::OrgCode,
    organization_user_grant::Column::UserId,
    organization_user_grant::Column::Grant,
    organization_user_grant::Column::GrantId,
];

/// An organization's fields, for creating one (`name` required) or changing some.
#[derive(Debug, Clone, Default)]
pub struct OrganizationFields {
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub handle: Option<String>,
}

fn handle_taken(handle: Option<String>) -> String {
    format!("another organization has the handle {:?}", handle.unwrap_or_default())
}

impl Store {
    pub async fn create_organization(&self, new: OrganizationFields) -> Result<organization::Model> {
        // Kinde's shape: `org_` and 11 hex digits.
        let code = format!("org_{}", &random_id()[..11]);
        let handle = new.handle.clone();
        organization::ActiveModel {
            code: Set(code),
            name: Set(new.name.unwrap_or_default()),
            external_id: Set(new.external_id),
            handle: Set(new.handle),
            mfa_policy: Set(None),
            mfa_exempt_roles_json: Set(None),
            created_at: Set(now_ms()),
        }
        .insert(&self.db)
        .await
        .map_err(unique_or_db(|| handle_taken(handle)))
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

    /// Changes the fields given, leaves the rest.
    pub async fn update_organization(&self, code: &str, change: OrganizationFields) -> Result<organization::Model> {
        let OrganizationFields { name, external_id, handle } = change;
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
        let taken = handle.clone();
        if let Some(handle) = handle {
            changed.handle = Set(Some(handle));
        }
        changed.update(&self.db).await.map_err(unique_or_db(|| handle_taken(taken)))
    }

    pub async fn delete_organization(&self, code: &str) -> Result<()> {
        let deleted = organization::Entity::delete_by_id(code).exec(&self.db).await?;
        if deleted.rows_affected == 0 {
            return Err(not_found("organization", code));
        }
        Ok(())
    }

    /// Sets an organization's value for an `org` property.
    pub async fn set_organization_property(&self, org_code: &str, key: &str, value: &str) -> Result<()> {
        let txn = self.begin_write().await?;
        organization::Entity::find_by_id(org_code)
            .one(&txn)
            .await?
            .ok_or_else(|| not_found("organization", org_code))?;
        let property = Store::property_in_context(&txn, key, PropertyContext::Organization, "organization").await?;
        organization_property::Entity::insert(organization_property::ActiveModel {
            org_code: Set(org_code.to_owned()),
            property_id: Set(property.id),
            value: Set(value.to_owned()),
        })
        .on_conflict(
            OnConflict::columns([organization_property::Column::OrgCode, organization_property::Column::PropertyId])
                .update_column(organization_property::Column::Value)
                .to_owned(),
        )
        .exec(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Every `org` property with the organization's value (empty when unset).
    pub async fn organization_properties(&self, org_code: &str) -> Result<Vec<(property::Model, String)>> {
        let values = organization_property::Entity::find()
            .filter(organization_property::Column::OrgCode.eq(org_code))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.property_id, row.value))
            .collect();
        self.properties_with_values(PropertyContext::Organization, values).await
    }

    /// Adds users to an organization with roles and permissions (by key), all or nothing.
    pub async fn add_organization_members(&self, org_code: &str, members: Vec<NewMember>) -> Result<()> {
        let txn = self.begin_write().await?;
        organization::Entity::find_by_id(org_code)
            .one(&txn)
            .await?
            .ok_or_else(|| not_found("organization", org_code))?;
        let roles = access_key::Entity::find().all(&txn).await?;
        let id_of = |kind: AccessKind, key: &str| {
            roles
                .iter()
                .find(|r| r.kind == kind && r.key == key)
                .map(|r| r.id.clone())
                .ok_or_else(|| StorageError::NotFound { what: kind.as_str(), id: key.to_owned() })
        };
        for member in members {
            user::Entity::find_by_id(&member.user_id)
                .one(&txn)
                .await?
                .ok_or_else(|| not_found("user", &member.user_id))?;
            let membership = organization_user::ActiveModel {
                org_code: Set(org_code.to_owned()),
                user_id: Set(member.user_id.clone()),
                joined_at: Set(now_ms()),
            };
            let key = [organization_user::Column::OrgCode, organization_user::Column::UserId];
            insert_unless_present(&txn, membership, key).await?;
            let grants = member
                .roles
                .iter()
                .map(|key| Ok((AccessKind::Role, id_of(AccessKind::Role, key)?)))
                .chain(
                    member
                        .permissions
                        .iter()
                        .map(|key| Ok((AccessKind::Permission, id_of(AccessKind::Permission, key)?))),
                )
                .collect::<Result<Vec<_>>>()?;
            for (kind, grant_id) in grants {
                let row = organization_user_grant::ActiveModel {
                    org_code: Set(org_code.to_owned()),
                    user_id: Set(member.user_id.clone()),
                    grant: Set(kind.as_str().to_owned()),
                    grant_id: Set(grant_id),
                };
                insert_unless_present(&txn, row, GRANT_KEY).await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// The members of an organization with the role and permission keys they hold there.
    pub async fn organization_members(&self, org_code: &str) -> Result<Vec<Member>> {
        let memberships = organization_user::Entity::find()
            .filter(organization_user::Column::OrgCode.eq(org_code))
            .all(&self.db)
            .await?;
        let grants = organization_user_grant::Entity::find()
            .filter(organization_user_grant::Column::OrgCode.eq(org_code))
            .all(&self.db)
            .await?;
        let keys = access_key::Entity::find().all(&self.db).await?;
        let mut members = Vec::new();
        for membership in memberships {
            let Some(user) = user::Entity::find_by_id(&membership.user_id).one(&self.db).await? else { continue };
            let held = |kind: AccessKind| {
                let mut held: Vec<String> = grants
                    .iter()
                    .filter(|g| g.user_id == user.id && g.grant == kind.as_str())
                    .filter_map(|g| keys.iter().find(|k| k.id == g.grant_id).map(|k| k.key.clone()))
                    .collect();
                held.sort();
                held
            };
            members.push(Member { roles: held(AccessKind::Role), permissions: held(AccessKind::Permission), user });
        }
        members.sort_by(|a, b| a.user.id.cmp(&b.user.id));
        Ok(members)
    }

    /// Gives a member a role (by id) in the organization; a role the member holds stays as it is.
    pub async fn grant_member_role(&self, org_code: &str, user_id: &str, role_id: &str) -> Result<()> {
        let role = access_key::Entity::find_by_id(role_id).one(&self.db).await?;
        if role.is_none_or(|role| role.kind != AccessKind::Role) {
            return Err(not_found("role", role_id));
        }
        let row = organization_user_grant::ActiveModel {
            org_code: Set(org_code.to_owned()),
            user_id: Set(user_id.to_owned()),
            grant: Set(AccessKind::Role.as_str().to_owned()),
            grant_id: Set(role_id.to_owned()),
        };
        insert_unless_present(&self.db, row, GRANT_KEY).await
    }

    /// Takes a role (by id) from a member; 404 when the member does not hold it.
    pub async fn revoke_member_role(&self, org_code: &str, user_id: &str, role_id: &str) -> Result<()> {
        let removed = organization_user_grant::Entity::delete_many()
            .filter(organization_user_grant::Column::OrgCode.eq(org_code))
            .filter(organization_user_grant::Column::UserId.eq(user_id))
            .filter(organization_user_grant::Column::Grant.eq(AccessKind::Role.as_str()))
            .filter(organization_user_grant::Column::GrantId.eq(role_id))
            .exec(&self.db)
            .await?;
        if removed.rows_affected == 0 {
            return Err(not_found("role of the member", role_id));
        }
        Ok(())
    }

    pub async fn remove_organization_member(&self, org_code: &str, user_id: &str) -> Result<()> {
        let txn = self.begin_write().await?;
        organization_user_grant::Entity::delete_many()
            .filter(organization_user_grant::Column::OrgCode.eq(org_code))
            .filter(organization_user_grant::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        let removed = organization_user::Entity::delete_many()
            .filter(organization_user::Column::OrgCode.eq(org_code))
            .filter(organization_user::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        if removed.rows_affected == 0 {
            return Err(not_found("organization member", user_id));
        }
        txn.commit().await?;
        Ok(())
    }
}
