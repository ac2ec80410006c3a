//! Multi-factor authentication: the environment's and the organizations' policies, users'
//! authenticator-app secrets and recovery codes, and the sign-ins waiting for their second factor.

use claimflow_contracts::mfa::MfaPolicy;
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, QueryFilter,
};

use crate::{
    entity::{access_key::AccessKind, mfa_challenge, organization, recovery_code, setting, user},
    not_found, now_ms, Result, Store,
};

/// Recovery codes a user gets at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// Wrong codes allowed for one sign-in; then it starts again.
pub const MAX_MFA_ATTEMPTS: i32 = 5;
const MFA_POLICY: &str = "mfa_policy";

/// A sign-in waiting for its second factor. Secrets arrive hashed (the ticket) or sealed.
#[derive(Debug, Clone, Copy)]
pub struct NewMfaChallenge<'a> {
    pub ticket_hash: &'a str,
    pub user_id: &'a str,
    pub session_policy: Option<&'a str>,
    /// Enrolment: the new secret, sealed.
    pub pending_secret: Option<&'a str>,
    pub optional: bool,
    pub lifetime_ms: i64,
}

/// What a ticket names.
#[derive(Debug, PartialEq, Eq)]
pub enum MfaCheck {
    Open(mfa_challenge::Model),
    /// No such ticket, an expired one, or one with too many wrong codes.
    Expired,
}

impl Store {
    /// The environment's policy (`off` until one is set).
    pub async fn environment_mfa_policy(&self) -> Result<MfaPolicy> {
        let found = setting::Entity::find_by_id(MFA_POLICY).one(&self.db).await?;
        Ok(found.and_then(|row| MfaPolicy::parse(&row.value)).unwrap_or(MfaPolicy::Off))
    }

    pub async fn set_environment_mfa_policy(&self, policy: MfaPolicy) -> Result<()> {
        let row = setting::ActiveModel {
            name: Set(MFA_POLICY.to_owned()),
            value: Set(policy.as_str().to_owned()),
            updated_at: Set(now_ms()),
        };
        let upsert = OnConflict::column(setting::Column::Name)
            .update_columns([setting::Column::Value, setting::Column::UpdatedAt])
            .to_owned();
        setting::Entity::insert(row).on_conflict(upsert).exec(&self.db).await?;
        Ok(())
    }

    /// An organization's own MFA policy (`None`: the environment's applies to it) and the roles,
    /// by key, exempt from it; an unknown role is refused, naming it.
    pub async fn set_organization_mfa(
        &self,
        code: &str,
        policy: Option<MfaPolicy>,
        exempt_roles: &[String],
    ) -> Result<organization::Model> {
        let found = organization::Entity::find_by_id(code)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found("organization", code))?;
        let roles = self.list_access_keys(AccessKind::Role).await?;
        if let Some(unknown) = exempt_roles.iter().find(|key| !roles.iter().any(|role| &role.key == *key)) {
            return Err(not_found("role", unknown));
        }
        let mut exempt = exempt_roles.to_vec();
        exempt.sort();
        exempt.dedup();
        let mut changed: organization::ActiveModel = found.into();
        changed.mfa_policy = Set(policy);
        changed.mfa_exempt_roles_json =
            Set((!exempt.is_empty()).then(|| serde_json::to_string(&exempt).expect("strings serialize")));
        Ok(changed.update(&self.db).await?)
    }

    /// Stores a sign-in waiting for its second factor (and drops expired ones).
    pub async fn create_mfa_challenge(&self, new: NewMfaChallenge<'_>) -> Result<()> {
        let now = now_ms();
        let txn = self.begin_write().await?;
        mfa_challenge::Entity::delete_many().filter(mfa_challenge::Column::ExpiresAt.lte(now)).exec(&txn).await?;
        mfa_challenge::ActiveModel {
            ticket_hash: Set(new.ticket_hash.to_owned()),
            user_id: Set(new.user_id.to_owned()),
            session_policy: Set(new.session_policy.map(str::to_owned)),
            pending_secret: Set(new.pending_secret.map(str::to_owned)),
            optional: Set(new.optional),
            passed: Set(false),
            expires_at: Set(now + new.lifetime_ms),
            attempts: Set(0),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn mfa_challenge(&self, ticket_hash: &str) -> Result<MfaCheck> {
        let found = mfa_challenge::Entity::find_by_id(ticket_hash).one(&self.db).await?;
        Ok(match found {
            Some(found) if found.expires_at > now_ms() && found.attempts < MAX_MFA_ATTEMPTS => MfaCheck::Open(found),
            _ => MfaCheck::Expired,
        })
    }

    /// Counts a wrong code: the tries left (at 0 the ticket is spent).
    pub async fn mfa_wrong_code(&self, ticket_hash: &str) -> Result<i32> {
        let txn = self.begin_write().await?;
        let Some(found) = mfa_challenge::Entity::find_by_id(ticket_hash).one(&txn).await? else { return Ok(0) };
        let attempts = found.attempts + 1;
        if attempts >= MAX_MFA_ATTEMPTS {
            mfa_challenge::Entity::delete_by_id(ticket_hash).exec(&txn).await?;
        } else {
            let mut changed: mfa_challenge::ActiveModel = found.into();
            changed.attempts = Set(attempts);
            changed.update(&txn).await?;
        }
        txn.commit().await?;
        Ok(MAX_MFA_ATTEMPTS - attempts)
    }

    /// The second factor is done (or skipped): the ticket is spent. False when it already was
    /// (a form posted twice).
    pub async fn finish_mfa_challenge(&self, ticket_hash: &str) -> Result<bool> {
        Ok(mfa_challenge::Entity::delete_by_id(ticket_hash).exec(&self.db).await?.rows_affected == 1)
    }

    /// Enrolment done: the user's secret (sealed) and the hashes of new recovery codes replace any
    /// old ones, the code's step counts as used, and the challenge is marked passed, in one
    /// transaction.
    pub async fn enrol_totp(
        &self,
        ticket_hash: &str,
        user_id: &str,
        sealed_secret: &str,
        step: i64,
        recovery_code_hashes: &[String],
    ) -> Result<()> {
        let txn = self.begin_write().await?;
        let found = user::Entity::find_by_id(user_id).one(&txn).await?.ok_or_else(|| not_found("user", user_id))?;
        let mut changed: user::ActiveModel = found.into();
        changed.totp_secret = Set(Some(sealed_secret.to_owned()));
        changed.totp_last_step = Set(Some(step));
        changed.updated_at = Set(now_ms());
        changed.update(&txn).await?;
        recovery_code::Entity::delete_many().filter(recovery_code::Column::UserId.eq(user_id)).exec(&txn).await?;
        let codes = recovery_code_hashes.iter().map(|hash| recovery_code::ActiveModel {
            code_hash: Set(hash.clone()),
            user_id: Set(user_id.to_owned()),
            used_at: Set(None),
        });
        recovery_code::Entity::insert_many(codes).exec(&txn).await?;
        mfa_challenge::Entity::update_many()
            .col_expr(mfa_challenge::Column::Passed, Expr::value(true))
            .col_expr(mfa_challenge::Column::PendingSecret, Expr::value(Option::<String>::None))
            .filter(mfa_challenge::Column::TicketHash.eq(ticket_hash))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Takes the 30-second `step` of a right code as used, unless it or a later one already was:
    /// false for a code typed twice (on this replica or another).
    pub async fn accept_totp_step(&self, user_id: &str, step: i64) -> Result<bool> {
        let unused =
            Condition::any().add(user::Column::TotpLastStep.is_null()).add(user::Column::TotpLastStep.lt(step));
        let updated = user::Entity::update_many()
            .col_expr(user::Column::TotpLastStep, Expr::value(step))
            .filter(user::Column::Id.eq(user_id))
            .filter(unused)
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// Spends a recovery code: false when it is not one of the user's unused ones.
    pub async fn use_recovery_code(&self, user_id: &str, code_hash: &str) -> Result<bool> {
        let updated = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(now_ms()))
            .filter(recovery_code::Column::CodeHash.eq(code_hash))
            .filter(recovery_code::Column::UserId.eq(user_id))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// Forgets a user's authenticator app and recovery codes (a lost phone): the next sign-in
    /// that asks for MFA enrols again.
    pub async fn reset_user_mfa(&self, user_id: &str) -> Result<()> {
        let txn = self.begin_write().await?;
        let found = user::Entity::find_by_id(user_id).one(&txn).await?.ok_or_else(|| not_found("user", user_id))?;
        let mut changed: user::ActiveModel = found.into();
        changed.totp_secret = Set(None);
        changed.totp_last_step = Set(None);
        changed.updated_at = Set(now_ms());
        changed.update(&txn).await?;
        recovery_code::Entity::delete_many().filter(recovery_code::Column::UserId.eq(user_id)).exec(&txn).await?;
        mfa_challenge::Entity::delete_many().filter(mfa_challenge::Column::UserId.eq(user_id)).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}
