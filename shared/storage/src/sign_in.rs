//! Sign-in state: sessions, authorization codes, refresh token families, failed sign-ins.

use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use crate::{
    entity::{authorization_code, login_failure, refresh_token, session},
    now_ms, random_id, Result, Store,
};

/// What an authorization code exchange found.
#[derive(Debug)]
pub enum CodeRedemption {
    /// First use: the code is now spent.
    Redeemed(authorization_code::Model),
    /// The code was exchanged before; the refresh tokens it started are now revoked.
    Replayed(authorization_code::Model),
    Unknown,
}

/// Why a refresh token could not be rotated.
#[derive(Debug, PartialEq, Eq)]
pub enum RotationRefused {
    /// It had been exchanged already: its whole family is now revoked.
    Reused,
    Revoked,
}

impl Store {
    pub async fn create_session(&self, secret_hash: &str, user_id: &str, lifetime_ms: i64) -> Result<session::Model> {
        let now = now_ms();
        Ok(session::ActiveModel {
            id: Set(format!("sess_{}", random_id())),
            secret_hash: Set(secret_hash.to_owned()),
            user_id: Set(user_id.to_owned()),
            auth_time: Set(now),
            created_at: Set(now),
            expires_at: Set(now + lifetime_ms),
            ended_at: Set(None),
        }
        .insert(&self.db)
        .await?)
    }

    /// The live session a cookie names: not ended, not expired.
    pub async fn active_session(&self, secret_hash: &str) -> Result<Option<session::Model>> {
        Ok(session::Entity::find()
            .filter(session::Column::SecretHash.eq(secret_hash))
            .filter(session::Column::EndedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now_ms()))
            .one(&self.db)
            .await?)
    }

    pub async fn find_session(&self, id: &str) -> Result<Option<session::Model>> {
        Ok(session::Entity::find_by_id(id).one(&self.db).await?)
    }

    /// Ends a session and revokes every refresh token issued under it.
    pub async fn end_session(&self, id: &str) -> Result<()> {
        let now = now_ms();
        let txn = self.begin_write().await?;
        session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::value(now))
            .filter(session::Column::Id.eq(id))
            .filter(session::Column::EndedAt.is_null())
            .exec(&txn)
            .await?;
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
            .filter(refresh_token::Column::SessionId.eq(id))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn insert_authorization_code(&self, code: authorization_code::Model) -> Result<()> {
        authorization_code::ActiveModel::from(code).insert(&self.db).await?;
        Ok(())
    }

    /// Spends a code: exactly one exchange wins, even when two race.
    pub async fn redeem_authorization_code(&self, code_hash: &str) -> Result<CodeRedemption> {
        let spent = authorization_code::Entity::update_many()
            .col_expr(authorization_code::Column::RedeemedAt, Expr::value(now_ms()))
            .filter(authorization_code::Column::CodeHash.eq(code_hash))
            .filter(authorization_code::Column::RedeemedAt.is_null())
            .exec(&self.db)
            .await?;
        let Some(code) = authorization_code::Entity::find_by_id(code_hash).one(&self.db).await? else {
            return Ok(CodeRedemption::Unknown);
        };
        if spent.rows_affected == 1 {
            return Ok(CodeRedemption::Redeemed(code));
        }
        if let Some(family) = &code.refresh_family {
            self.revoke_refresh_family(family).await?;
        }
        Ok(CodeRedemption::Replayed(code))
    }

    /// Stores the first refresh token of a family and ties the family to the code it came from.
    pub async fn start_refresh_family(&self, code_hash: &str, first: refresh_token::Model) -> Result<()> {
        let txn = self.begin_write().await?;
        authorization_code::Entity::update_many()
            .col_expr(authorization_code::Column::RefreshFamily, Expr::value(first.family_id.clone()))
            .filter(authorization_code::Column::CodeHash.eq(code_hash))
            .exec(&txn)
            .await?;
        refresh_token::ActiveModel::from(first).insert(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn find_refresh_token(&self, token_hash: &str) -> Result<Option<refresh_token::Model>> {
        Ok(refresh_token::Entity::find_by_id(token_hash).one(&self.db).await?)
    }

    /// Replaces a refresh token by its successor, once. A token already exchanged revokes its
    /// family (RFC 9700 §4.14.2): whoever holds a copy can no longer use any of it.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        successor: refresh_token::Model,
    ) -> Result<Result<(), RotationRefused>> {
        let now = now_ms();
        let txn = self.begin_write().await?;
        let spent = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
            .filter(refresh_token::Column::TokenHash.eq(old_hash))
            .filter(refresh_token::Column::UsedAt.is_null())
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        if spent.rows_affected == 0 {
            txn.rollback().await?;
            let Some(old) = self.find_refresh_token(old_hash).await? else { return Ok(Err(RotationRefused::Revoked)) };
            if old.revoked_at.is_some() {
                return Ok(Err(RotationRefused::Revoked));
            }
            self.revoke_refresh_family(&old.family_id).await?;
            return Ok(Err(RotationRefused::Reused));
        }
        refresh_token::ActiveModel::from(successor).insert(&txn).await?;
        txn.commit().await?;
        Ok(Ok(()))
    }

    pub async fn revoke_refresh_family(&self, family_id: &str) -> Result<()> {
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now_ms()))
            .filter(refresh_token::Column::FamilyId.eq(family_id))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    pub async fn record_login_failure(&self, subjects: &[String]) -> Result<()> {
        let at = now_ms();
        let rows = subjects.iter().map(|subject| login_failure::ActiveModel {
            id: Set(random_id()),
            subject: Set(subject.clone()),
            at: Set(at),
        });
        login_failure::Entity::insert_many(rows).exec(&self.db).await?;
        Ok(())
    }

    /// Failed sign-ins for `subject` since `since_ms`, and the oldest of them.
    pub async fn login_failures_since(&self, subject: &str, since_ms: i64) -> Result<(u64, Option<i64>)> {
        let query = login_failure::Entity::find()
            .filter(login_failure::Column::Subject.eq(subject))
            .filter(login_failure::Column::At.gt(since_ms));
        let count = query.clone().count(&self.db).await?;
        let oldest = query.order_by_asc(login_failure::Column::At).one(&self.db).await?.map(|f| f.at);
        Ok((count, oldest))
    }

    /// Deletes sign-in state nobody can use any more: expired sessions, refresh tokens and codes,
    /// and failed sign-ins older than the throttling window. Codes are kept a day past expiry so a
    /// late replay still revokes what the code produced.
    pub async fn purge_expired_sign_in_state(&self, now_ms: i64, failure_window_ms: i64) -> Result<u64> {
        const DAY_MS: i64 = 86_400_000;
        let txn = self.begin_write().await?;
        let mut purged = 0;
        purged += session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lt(now_ms).or(session::Column::EndedAt.lt(now_ms - DAY_MS)))
            .exec(&txn)
            .await?
            .rows_affected;
        purged += refresh_token::Entity::delete_many()
            .filter(refresh_token::Column::ExpiresAt.lt(now_ms))
            .exec(&txn)
            .await?
            .rows_affected;
        purged += authorization_code::Entity::delete_many()
            .filter(authorization_code::Column::ExpiresAt.lt(now_ms - DAY_MS))
            .exec(&txn)
            .await?
            .rows_affected;
        purged += login_failure::Entity::delete_many()
            .filter(login_failure::Column::At.lt(now_ms - failure_window_ms))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(purged)
    }

    /// Forgets an account's failures after a successful sign-in (the address keeps its count).
    pub async fn clear_login_failures(&self, subject: &str) -> Result<()> {
        login_failure::Entity::delete_many().filter(login_failure::Column::Subject.eq(subject)).exec(&self.db).await?;
        Ok(())
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_and_migrate(&crate::sqlite_url(&dir.path().join("test.sqlite"))).await.unwrap();
        (store, dir)
    }

    fn refresh_row(hash: &str, family: &str, expires_at: i64) -> refresh_token::Model {
        refresh_token::Model {
            token_hash: hash.into(),
            family_id: family.into(),
            client_id: "web".into(),
            user_id: "kp_1".into(),
            session_id: "sess_1".into(),
            scope: "openid offline".into(),
            org_code: None,
            audience: serde_json::json!([]),
            auth_time: 0,
            created_at: 0,
            expires_at,
            used_at: None,
            revoked_at: None,
        }
    }

    #[tokio::test]
    async fn a_rotated_refresh_token_cannot_rotate_twice_and_its_reuse_revokes_the_family() {
        let (store, _dir) = store().await;
        let far = now_ms() + 60_000;
        store.insert_authorization_code_for_test().await;
        store.start_refresh_family("code", refresh_row("a", "fam", far)).await.unwrap();
        assert_eq!(store.rotate_refresh_token("a", refresh_row("b", "fam", far)).await.unwrap(), Ok(()));
        assert_eq!(
            store.rotate_refresh_token("a", refresh_row("c", "fam", far)).await.unwrap(),
            Err(RotationRefused::Reused)
        );
        let successor = store.find_refresh_token("b").await.unwrap().unwrap();
        assert!(successor.revoked_at.is_some(), "the reuse revoked the newer token too");
        assert!(store.find_refresh_token("c").await.unwrap().is_none(), "nothing was half-written");
    }

    #[tokio::test]
    async fn purging_removes_only_what_has_expired() {
        let (store, _dir) = store().await;
        let now = now_ms();
        store.insert_authorization_code_for_test().await;
        store.start_refresh_family("code", refresh_row("old", "f1", now - 1)).await.unwrap();
        store.start_refresh_family("code", refresh_row("live", "f2", now + 60_000)).await.unwrap();
        store.record_login_failure(&["ip:1".into()]).await.unwrap();
        let purged = store.purge_expired_sign_in_state(now + 1_000, 60_000).await.unwrap();
        assert_eq!(purged, 1, "only the expired refresh token");
        assert!(store.find_refresh_token("old").await.unwrap().is_none());
        assert!(store.find_refresh_token("live").await.unwrap().is_some());
        assert_eq!(store.login_failures_since("ip:1", 0).await.unwrap().0, 1, "a recent failure still counts");
        store.purge_expired_sign_in_state(now + 120_000, 60_000).await.unwrap();
        assert_eq!(store.login_failures_since("ip:1", 0).await.unwrap().0, 0);
    }

    impl Store {
        async fn insert_authorization_code_for_test(&self) {
            self.insert_authorization_code(authorization_code::Model {
                code_hash: "code".into(),
                client_id: "web".into(),
                redirect_uri: "https://app/callback".into(),
                session_id: "sess_1".into(),
                user_id: "kp_1".into(),
                code_challenge: None,
                scope: "openid offline".into(),
                org_code: None,
                audience: serde_json::json!([]),
                sealed_tokens: String::new(),
                expires_at: now_ms() + 60_000,
                redeemed_at: None,
                refresh_family: None,
            })
            .await
            .unwrap();
        }
    }
}
