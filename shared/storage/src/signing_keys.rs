//! The deployment's signing keys: one set in the database for every signer.

use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::{entity::signing_key, not_found, Result, Store};

/// Serializes key creation between signers on PostgreSQL (SQLite's write lock already does).
const KEY_LOCK: i64 = 0x636c_6677_6b65_7973; // "clfwkeys"

impl Store {
    /// Every key, revoked ones too, oldest `signs_from` first.
    pub async fn signing_keys(&self) -> Result<Vec<signing_key::Model>> {
        Ok(signing_key::Entity::find()
            .order_by_asc(signing_key::Column::SignsFrom)
            .order_by_asc(signing_key::Column::Kid)
            .all(&self.db)
            .await?)
    }

    /// Adds a key unless one with its `kid` exists. With `unless_newer_than`, adds it only when
    /// no unrevoked key of its algorithm was created at or after that time (Unix ms), in one
    /// transaction: of several signers that decide at once to create a key, one does. Whether it
    /// was added.
    pub async fn add_signing_key(&self, key: signing_key::Model, unless_newer_than: Option<i64>) -> Result<bool> {
        let txn = self.begin_write().await?;
        if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({KEY_LOCK})")).await?;
        }
        if let Some(since) = unless_newer_than {
            let newer = signing_key::Entity::find()
                .filter(signing_key::Column::Alg.eq(&key.alg))
                .filter(signing_key::Column::RevokedAt.is_null())
                .filter(signing_key::Column::CreatedAt.gte(since))
                .one(&txn)
                .await?;
            if newer.is_some() {
                return Ok(false);
            }
        }
        let inserted = signing_key::Entity::insert(new_row(key))
            .on_conflict(OnConflict::column(signing_key::Column::Kid).do_nothing().to_owned())
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok(inserted > 0)
    }

    /// Revokes a key at `now` (Unix ms); revoking it again changes nothing.
    pub async fn revoke_signing_key(&self, kid: &str, now: i64) -> Result<signing_key::Model> {
        let key =
            signing_key::Entity::find_by_id(kid).one(&self.db).await?.ok_or_else(|| not_found("signing key", kid))?;
        if key.revoked_at.is_some() {
            return Ok(key);
        }
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::RevokedAt, Expr::value(now))
            .filter(signing_key::Column::Kid.eq(kid))
            .exec(&self.db)
            .await?;
        Ok(signing_key::Model { revoked_at: Some(now), ..key })
    }

    /// Records that no token `kid` signed so far expires after `exp` (Unix seconds); never
    /// lowers what is recorded.
    pub async fn record_key_use(&self, kid: &str, exp: i64) -> Result<()> {
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::LastExp, Expr::value(exp))
            .filter(signing_key::Column::Kid.eq(kid))
            .filter(signing_key::Column::LastExp.lt(exp))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

fn new_row(key: signing_key::Model) -> signing_key::ActiveModel {
    signing_key::ActiveModel {
        kid: Set(key.kid),
        alg: Set(key.alg),
        sealed_key: Set(key.sealed_key),
        created_at: Set(key.created_at),
        signs_from: Set(key.signs_from),
        revoked_at: Set(key.revoked_at),
        last_exp: Set(key.last_exp),
    }
}
