//! Users, roles, permissions and feature flags, and what a user may do in an organization.

use sea_orm::{
    sea_query::{Expr, Func},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::{
    entity::{
        access_key::{self, AccessKind},
        feature_flag, mfa_challenge, organization_user, organization_user_grant, recovery_code, role_permission, user,
        user_property,
    },
    insert_unless_present, not_found, now_ms, random_id, unique_or_db, Result, StorageError, Store,
};

/// What a user holds in one organization, by key.
#[derive(Debug, Default)]
pub struct UserAccess {
    pub roles: Vec<access_key::Model>,
    /// Granted directly and through roles, sorted, without repeats.
    pub permissions: Vec<String>,
}

/// A user to create. `username`, when given, is already lowercase and checked.
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub username: Option<&'a str>,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub password_hash: Option<&'a str>,
}

/// A new user's id, Kinde's shape: `kp_` and 32 hex digits.
pub fn new_user_id() -> String {
    format!("kp_{}", random_id())
}

impl Store {
    pub async fn create_user(
        &self,
        email: &str,
        username: Option<&str>,
        given_name: &str,
        family_name: &str,
    ) -> Result<user::Model> {
        let new = NewUser { id: &new_user_id(), email, username, given_name, family_name, password_hash: None };
        self.insert_user(new).await
    }

    /// A user and their password in one row (a sign-up): both, or neither. `new.id` from
    /// [`new_user_id`], so that workflows run before the user exists can be told it.
    pub async fn create_user_with_password(&self, new: NewUser<'_>) -> Result<user::Model> {
        self.insert_user(new).await
    }

    async fn insert_user(&self, new: NewUser<'_>) -> Result<user::Model> {
        let NewUser { id, email, username, given_name, family_name, password_hash } = new;
        let txn = self.begin_write().await?;
        let conflict = || match username {
            Some(username) => format!("a user with email {email:?} or username {username:?} already exists"),
            None => format!("a user with email {email:?} already exists"),
        };
        if user::Entity::find().filter(user::Column::Email.eq(email)).one(&txn).await?.is_some() {
            return Err(StorageError::Conflict(format!("a user with email {email:?} already exists")));
        }
        if let Some(username) = username {
            if user::Entity::find().filter(user::Column::Username.eq(username)).one(&txn).await?.is_some() {
                return Err(StorageError::Conflict(format!("a user with username {username:?} already exists")));
            }
        }
        let now = now_ms();
        let created = user::ActiveModel {
            id: Set(id.to_owned()),
            email: Set(email.to_owned()),
            given_name: Set(given_name.to_owned()),
            family_name: Set(family_name.to_owned()),
            password_hash: Set(password_hash.map(str::to_owned)),
            email_verified: Set(false),
            username: Set(username.map(str::to_owned)),
            totp_secret: Set(None),
            totp_last_step: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(unique_or_db(conflict))?;
        txn.commit().await?;
        Ok(created)
    }

    /// The user with this username (stored lowercase).
    pub async fn find_user_by_username(&self, username: &str) -> Result<Option<user::Model>> {
        let username = username.trim().to_lowercase();
        Ok(user::Entity::find().filter(user::Column::Username.eq(username)).one(&self.db).await?)
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
        user_property::Entity::delete_many().filter(user_property::Column::UserId.eq(id)).exec(&txn).await?;
        recovery_code::Entity::delete_many().filter(recovery_code::Column::UserId.eq(id)).exec(&txn).await?;
        mfa_challenge::Entity::delete_many().filter(mfa_challenge::Column::UserId.eq(id)).exec(&txn).await?;
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
        let conflict = || format!("a {} with key {key:?} already exists", kind.as_str());
        let taken = access_key::Entity::find()
            .filter(access_key::Column::Kind.eq(kind))
            .filter(access_key::Column::Key.eq(key))
            .one(&txn)
            .await?;
        if taken.is_some() {
            return Err(StorageError::Conflict(conflict()));
        }
        let created = access_key::ActiveModel {
            id: Set(format!("{}{}", kind.id_prefix(), random_id())),
            kind: Set(kind),
            key: Set(key.to_owned()),
            name: Set(name.to_owned()),
            description: Set(description.to_owned()),
        }
        .insert(&txn)
        .await
        .map_err(unique_or_db(conflict))?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn list_access_keys(&self, kind: AccessKind) -> Result<Vec<access_key::Model>> {
        Ok(access_key::Entity::find()
            .filter(access_key::Column::Kind.eq(kind))
            .order_by_asc(access_key::Column::Key)
            .all(&self.db)
            .await?)
    }

    /// Adds and removes a role's permissions (by id) in one transaction.
    pub async fn change_role_permissions(&self, role_id: &str, add: &[String], remove: &[String]) -> Result<()> {
        let txn = self.begin_write().await?;
        let role = access_key::Entity::find_by_id(role_id).one(&txn).await?.filter(|r| r.kind == AccessKind::Role);
        role.ok_or_else(|| not_found("role", role_id))?;
        for permission_id in add.iter().chain(remove) {
            let found = access_key::Entity::find_by_id(permission_id)
                .one(&txn)
                .await?
                .filter(|p| p.kind == AccessKind::Permission);
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
        let conflict = || format!("a feature flag with key {key:?} already exists");
        if feature_flag::Entity::find_by_id(key).one(&txn).await?.is_some() {
            return Err(StorageError::Conflict(conflict()));
        }
        let created = feature_flag::ActiveModel {
            key: Set(key.to_owned()),
            name: Set(name.to_owned()),
            description: Set(description.to_owned()),
            flag_type: Set(flag_type.to_owned()),
            default_value: Set(default_value),
        }
        .insert(&txn)
        .await
        .map_err(unique_or_db(conflict))?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn list_feature_flags(&self) -> Result<Vec<feature_flag::Model>> {
        Ok(feature_flag::Entity::find().order_by_asc(feature_flag::Column::Key).all(&self.db).await?)
    }

    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<user::Model>> {
        let lower = Expr::expr(Func::lower(Expr::col(user::Column::Email)));
        Ok(user::Entity::find().filter(lower.eq(email.trim().to_lowercase())).one(&self.db).await?)
    }

    /// The organizations a user belongs to, oldest membership first.
    pub async fn user_organizations(&self, user_id: &str) -> Result<Vec<String>> {
        let memberships = organization_user::Entity::find()
            .filter(organization_user::Column::UserId.eq(user_id))
            .order_by_asc(organization_user::Column::JoinedAt)
            .order_by_asc(organization_user::Column::OrgCode)
            .all(&self.db)
            .await?;
        Ok(memberships.into_iter().map(|m| m.org_code).collect())
    }

    /// The roles and permissions a user holds in an organization.
    pub async fn user_access(&self, org_code: &str, user_id: &str) -> Result<UserAccess> {
        let grants = organization_user_grant::Entity::find()
            .filter(organization_user_grant::Column::OrgCode.eq(org_code))
            .filter(organization_user_grant::Column::UserId.eq(user_id))
            .all(&self.db)
            .await?;
        let role_ids: Vec<&str> =
            grants.iter().filter(|g| g.grant == AccessKind::Role.as_str()).map(|g| g.grant_id.as_str()).collect();
        let mut permission_ids: Vec<String> =
            grants.iter().filter(|g| g.grant == AccessKind::Permission.as_str()).map(|g| g.grant_id.clone()).collect();
        if !role_ids.is_empty() {
            let through_roles = role_permission::Entity::find()
                .filter(role_permission::Column::RoleId.is_in(role_ids.iter().copied()))
                .all(&self.db)
                .await?;
            permission_ids.extend(through_roles.into_iter().map(|rp| rp.permission_id));
        }
        let keys = access_key::Entity::find().order_by_asc(access_key::Column::Key).all(&self.db).await?;
        let roles = keys.iter().filter(|k| role_ids.contains(&k.id.as_str())).cloned().collect();
        let mut permissions: Vec<String> =
            keys.iter().filter(|k| permission_ids.contains(&k.id)).map(|k| k.key.clone()).collect();
        permissions.dedup();
        Ok(UserAccess { roles, permissions })
    }
}
