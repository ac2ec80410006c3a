//! One-time codes sent by email, and verified email addresses.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::{
    entity::{email_code, user},
    not_found, now_ms, Result, Store,
};

/// Wrong codes allowed for one ticket; then it is spent.
pub const MAX_CODE_ATTEMPTS: i32 = 5;

/// What typing a code came to.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// The right code: the ticket is spent; the user it was for, and its purpose.
    Accepted { user_id: String, purpose: String },
    /// A wrong code; this many tries are left.
    Wrong { attempts_left: i32 },
    /// No such ticket, a spent or expired one, or too many wrong codes.
    Expired,
}

impl Store {
    /// Stores a code for `user_id`, replacing any earlier one of the same purpose.
    pub async fn create_email_code(
        &self,
        ticket_hash: &str,
        user_id: &str,
        purpose: &str,
        code_hash: &str,
        lifetime_ms: i64,
    ) -> Result<()> {
        let txn = self.begin_write().await?;
        email_code::Entity::delete_many()
            .filter(email_code::Column::UserId.eq(user_id))
            .filter(email_code::Column::Purpose.eq(purpose))
            .exec(&txn)
            .await?;
        email_code::ActiveModel {
            ticket_hash: Set(ticket_hash.to_owned()),
            user_id: Set(user_id.to_owned()),
            purpose: Set(purpose.to_owned()),
            code_hash: Set(code_hash.to_owned()),
            expires_at: Set(now_ms() + lifetime_ms),
            attempts: Set(0),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Checks a typed code against the ticket's, if it was made for one of `purposes`. The right
    /// one spends the ticket.
    pub async fn check_email_code(&self, ticket_hash: &str, purposes: &[&str], code_hash: &str) -> Result<CodeCheck> {
        let txn = self.begin_write().await?;
        let Some(found) = email_code::Entity::find_by_id(ticket_hash).one(&txn).await? else {
            return Ok(CodeCheck::Expired);
        };
        if !purposes.contains(&found.purpose.as_str())
            || found.expires_at <= now_ms()
            || found.attempts >= MAX_CODE_ATTEMPTS
        {
            email_code::Entity::delete_by_id(ticket_hash).exec(&txn).await?;
            txn.commit().await?;
            return Ok(CodeCheck::Expired);
        }
        // NOTE: both are SHA-256 hex of secrets; comparing hashes leaks nothing about the code.
        if found.code_hash == code_hash {
            email_code::Entity::delete_by_id(ticket_hash).exec(&txn).await?;
            txn.commit().await?;
            return Ok(CodeCheck::Accepted { user_id: found.user_id, purpose: found.purpose });
        }
        let attempts = found.attempts + 1;
        let mut changed: email_code::ActiveModel = found.into();
        changed.attempts = Set(attempts);
        changed.update(&txn).await?;
        txn.commit().await?;
        Ok(CodeCheck::Wrong { attempts_left: MAX_CODE_ATTEMPTS - attempts })
    }

    pub async fn set_email_verified(&self, user_id: &str) -> Result<()> {
        let found = user::Entity::find_by_id(user_id).one(&self.db).await?.ok_or_else(|| not_found("user", user_id))?;
        let mut changed: user::ActiveModel = found.into();
        changed.email_verified = Set(true);
        changed.updated_at = Set(now_ms());
        changed.update(&self.db).await?;
        Ok(())
    }
}
