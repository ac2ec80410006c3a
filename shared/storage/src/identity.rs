//! Users, roles, permissions, feature flags, and who holds what in which organization.

use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::{
    entity::{
        identity::{
            access_key, feature_flag, organization_property, organization_user, organization_user_grant,
            role_permission, user,
        },
        organization, property,
    },
    now_ms,
    queries::insert_unless_present,
    Result, StorageError, Store,
};

/// Roles and permissions, told apart in one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKind {
    Role,
    Permission,
}

impl AccessKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKind::Role => "role",
            AccessKind::Permission => "permission",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            AccessKind::Role => "role_",
            AccessKind::Permission => "perm_",
        }
    }
}

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

fn not_found(what: &'static str, id: &str) -> StorageError {
    StorageError::NotFound { what, id: id.to_owned() }
}

impl Store {
    pub async fn create_user(&self, email: &str, given_name: &str, family_name: &str) -> Result<user::Model> {
        let txn = self.begin_write().await?;
        if user::Entity::find().filter(user::Column::Email.eq(email)).one(&txn).await?.is_some() {
            return Err(StorageError::Conflict(format!("a user with email {email:?} already exists")));
        }
        let now = now_ms();
        let created = user::ActiveModel {
            id: Set(format!("kp_{}", crate::queries::random_id())),
            email: Set(email.to_owned()),
            given_name: Set(given_name.to_owned()),
            family_name: Set(family_name.to_owned()),
            password_hash: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn list_users(&self) -> Result<Vec<user::Model>> {
        Ok(user::Entity::find().order_by_asc(user::Column::Id).all(&self.db).await?)
    }

    pub async fn find_user(&self, id: &str) -> Result<Option<user::Model>> {
        Ok(user::Entity::find_by_id(id).one(&self.db).await?)
    }

    /// Stores a password hash (argon2id PHC string, or an imported bcrypt hash).
    pub async fn set_user_password(&self, id: &str, password_hash: &str) -> Result<()> {
        let found = user::Entity::find_by_id(id).one(&self.db).await?.ok_or_else(|| not_found("user", id))?;
        let mut changed: user::ActiveModel = found.into();
        changed.password_hash = Set(Some(password_hash.to_owned()));
        changed.updated_at = Set(now_ms());
        changed.update(&self.db).await?;
        Ok(())
    }

    pub async fn delete_user(&self, id: &str) -> Result<()> {
        let txn = self.begin_write().await?;
        user::Entity::find_by_id(id).one(&txn).await?.ok_or_else(|| not_found("user", id))?;
        organization_user_grant::Entity::delete_many()
            .filter(organization_user_grant::Column::UserId.eq(id))
            .exec(&txn)
            .await?;
        organization_user::Entity::delete_many().filter(organization_user::Column::UserId.eq(id)).exec(&txn).await?;
        user::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn create_access_key(
        &self,
        kind: AccessKind,
        key: &str,
        name: &str,
        description: &str,
    ) -> Result<access_key::Model> {
        let txn = self.begin_write().await?;
        let taken = access_key::Entity::find()
            .filter(access_key::Column::Kind.eq(kind.as_str()))
            .filter(access_key::Column::Key.eq(key))
            .one(&txn)
            .await?;
        if taken.is_some() {
            return Err(StorageError::Conflict(format!("a {} with key {key:?} already exists", kind.as_str())));
        }
        let created = access_key::ActiveModel {
            id: Set(format!("{}{}", kind.id_prefix(), crate::queries::random_id())),
            kind: Set(kind.as_str().to_owned()),
            key: Set(key.to_owned()),
            name: Set(name.to_owned()),
            description: Set(description.to_owned()),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn list_access_keys(&self, kind: AccessKind) -> Result<Vec<access_key::Model>> {
        Ok(access_key::Entity::find()
            .filter(access_key::Column::Kind.eq(kind.as_str()))
            .order_by_asc(access_key::Column::Key)
            .all(&self.db)
            .await?)
    }

    /// Adds and removes a role's permissions (by id) in one transaction.
    pub async fn change_role_permissions(&self, role_id: &str, add: &[String], remove: &[String]) -> Result<()> {
        let txn = self.begin_write().await?;
        let role = access_key::Entity::find_by_id(role_id).one(&txn).await?.filter(|r| r.kind == "role");
        role.ok_or_else(|| not_found("role", role_id))?;
        for permission_id in add.iter().chain(remove) {
            let found =
                access_key::Entity::find_by_id(permission_id).one(&txn).await?.filter(|p| p.kind == "permission");
            found.ok_or_else(|| not_found("permission", permission_id))?;
        }
        for permission_id in add {
            let row = role_permission::ActiveModel {
                role_id: Set(role_id.to_owned()),
                permission_id: Set(permission_id.clone()),
            };
            insert_unless_present(&txn, row, [role_permission::Column::RoleId, role_permission::Column::PermissionId])
                .await?;
        }
        role_permission::Entity::delete_many()
            .filter(role_permission::Column::RoleId.eq(role_id))
            .filter(role_permission::Column::PermissionId.is_in(remove.to_vec()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The keys of a role's permissions.
    pub async fn role_permission_keys(&self, role_id: &str) -> Result<Vec<String>> {
        let ids: Vec<String> = role_permission::Entity::find()
            .filter(role_permission::Column::RoleId.eq(role_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| row.permission_id)
            .collect();
        let mut keys: Vec<String> = access_key::Entity::find()
            .filter(access_key::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|permission| permission.key)
            .collect();
        keys.sort();
        Ok(keys)
    }

    pub async fn create_feature_flag(
        &self,
        key: &str,
        name: &str,
        description: &str,
        flag_type: &str,
        default_value: serde_json::Value,
    ) -> Result<feature_flag::Model> {
        let txn = self.begin_write().await?;
        if feature_flag::Entity::find_by_id(key).one(&txn).await?.is_some() {
            return Err(StorageError::Conflict(format!("a feature flag with key {key:?} already exists")));
        }
        let created = feature_flag::ActiveModel {
            key: Set(key.to_owned()),
            name: Set(name.to_owned()),
            description: Set(description.to_owned()),
            flag_type: Set(flag_type.to_owned()),
            default_value: Set(default_value),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn list_feature_flags(&self) -> Result<Vec<feature_flag::Model>> {
        Ok(feature_flag::Entity::find().order_by_asc(feature_flag::Column::Key).all(&self.db).await?)
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
            roles.iter().find(|r| r.kind == kind.as_str() && r.key == key).map(|r| r.id.clone()).ok_or_else(|| {
                StorageError::NotFound {
                    what: if kind == AccessKind::Role { "role" } else { "permission" },
                    id: key.to_owned(),
                }
            })
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
                let key = [
                    organization_user_grant::Column::OrgCode,
                    organization_user_grant::Column::UserId,
                    organization_user_grant::Column::Grant,
                    organization_user_grant::Column::GrantId,
                ];
                insert_unless_present(&txn, row, key).await?;
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

    /// Sets an organization's value for an `org` property.
    pub async fn set_organization_property(&self, org_code: &str, key: &str, value: &str) -> Result<()> {
        let txn = self.begin_write().await?;
        organization::Entity::find_by_id(org_code)
            .one(&txn)
            .await?
            .ok_or_else(|| not_found("organization", org_code))?;
        let property = property::Entity::find()
            .filter(property::Column::Key.eq(key))
            .one(&txn)
            .await?
            .ok_or_else(|| not_found("property", key))?;
        if property.context != "org" {
            return Err(StorageError::Conflict(format!(
                "property {key:?} has context {:?}; only \"org\" properties hold organization values",
                property.context
            )));
        }
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
        self.properties_with_values("org", values).await
    }
}
