//! claimflow's persistent state through sea-orm: applications, APIs and their authorizations,
//! workflow deployments and the record of every run.
//!
//! SQLite is the embedded default (one file, no server); PostgreSQL is the production backend.
//! Both run the same migrations and the same queries. Writes that touch more than one row run
//! in a transaction: an error leaves nothing half-written.

mod apis;
mod applications;
mod audit;
mod email_codes;
pub mod entity;
mod environment;
mod mfa;
mod migration;
mod organizations;
mod properties;
mod records;
mod runs;
mod sign_in;
mod signing_keys;
mod user_properties;
mod users;
mod workflows;

use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

/// The largest page a list answers. Storage returns one row more when asked, so that the caller
/// can tell whether another page follows.
pub const MAX_PAGE_SIZE: u64 = 500;

pub use apis::ManagementBootstrap;
pub use applications::{ApplicationPropertyValue, UrlChange};
pub use audit::AuditFilter;
pub use email_codes::{CodeCheck, MAX_CODE_ATTEMPTS};
pub use entity::access_key::AccessKind;
pub use environment::VariableChange;
pub use mfa::{MfaCheck, NewMfaChallenge, RECOVERY_CODES};
pub use organizations::{Member, NewMember, OrganizationFields};
pub use properties::NewProperty;
pub use runs::RunFilter;
pub use sign_in::{CodeRedemption, RotationRefused};
pub use users::UserAccess;
pub use users::{new_user_id, NewUser};
pub use workflows::NewDeployment;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot open the database at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: DbErr,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[source] DbErr),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("the database schema is not migrated yet ({0}); auth-service migrates it when it starts")]
    SchemaPending(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Opens the database without touching its schema (services that only read).
    pub async fn open(url: &str) -> Result<Store> {
        let mut options = ConnectOptions::new(url.to_owned());
        options.sqlx_logging(false).max_connections(8);
        let db = Database::connect(options)
            .await
            .map_err(|source| StorageError::Connect { url: redact_password(url), source })?;
        if db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
            // NOTE: WAL lets readers (the signer, other pools) proceed while auth-service writes;
            // the setting is stored in the file, so running it on every open is harmless.
            db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;").await?;
        }
        Ok(Store { db })
    }

    /// Opens the database and brings its schema up to date (the owner: auth-service).
    pub async fn open_and_migrate(url: &str) -> Result<Store> {
        let store = Store::open(url).await?;
        migration::Migrator::up(&store.db, None).await.map_err(StorageError::Migrate)?;
        Ok(store)
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// A transaction that writes. On SQLite it takes the write lock at once, waiting for another
    /// writer up to the busy timeout, as `BEGIN IMMEDIATE` would (sea-orm offers no way to say
    /// that). A plain transaction that reads first and writes after fails at once with "database
    /// is locked" when another connection wrote in between, instead of waiting its turn.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction> {
        let txn = self.db.begin().await?;
        if self.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
            // NOTE: any write statement takes the lock, even one that changes no row.
            txn.execute_unprepared("UPDATE seaql_migrations SET version = version WHERE 0 = 1").await?;
        }
        Ok(txn)
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        Ok(self.db.ping().await?)
    }

    /// Whether the schema is this build's: its last migration has run. The services that only
    /// read (the signer) are not ready before that. Reads only: creates no bookkeeping table.
    pub async fn check_schema(&self) -> Result<()> {
        use sea_orm::{ConnectionTrait, Statement};
        let latest = migration::Migrator::migrations().last().map(|migration| migration.name().to_owned());
        let Some(latest) = latest else { return Ok(()) };
        let backend = self.db.get_database_backend();
        let placeholder = if backend == sea_orm::DatabaseBackend::Postgres { "$1" } else { "?" };
        let query = Statement::from_sql_and_values(
            backend,
            format!("SELECT version FROM seaql_migrations WHERE version = {placeholder}"),
            [latest.clone().into()],
        );
        match self.db.query_one(query).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(StorageError::SchemaPending(format!("{latest} has not run"))),
            Err(_) => {
                self.ping().await?;
                Err(StorageError::SchemaPending("no migration has run".to_owned()))
            }
        }
    }
}

/// The error of a write refused by a unique index: another writer stored the same key first (on
/// PostgreSQL two transactions can both pass the check for an existing row). It is the same
/// `Conflict` as the check gives, never a database error.
pub(crate) fn unique_or_db(conflict: impl FnOnce() -> String) -> impl FnOnce(DbErr) -> StorageError {
    move |err| match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => StorageError::Conflict(conflict()),
        _ => StorageError::Db(err),
    }
}

/// Inserts a row unless one with the same `key` columns exists (then nothing happens).
pub(crate) async fn insert_unless_present<A, K>(db: &impl ConnectionTrait, row: A, key: K) -> Result<()>
where
    A: ActiveModelTrait + Send,
    K: IntoIterator,
    K::Item: sea_orm::sea_query::IntoIden,
{
    <A::Entity as EntityTrait>::insert(row)
        .on_conflict(OnConflict::columns(key).do_nothing().to_owned())
        .do_nothing()
        .exec(db)
        .await?;
    Ok(())
}

pub(crate) fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn not_found(what: &'static str, id: &str) -> StorageError {
    StorageError::NotFound { what, id: id.to_owned() }
}

/// Rows strictly older than `(time, id)` in a list ordered by time, then id, both descending:
/// where the next page of such a list starts.
pub(crate) fn older_than(
    time: impl sea_orm::ColumnTrait,
    id: impl sea_orm::ColumnTrait,
    (at, last_id): &(i64, String),
) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(time.lt(*at))
        .add(sea_orm::Condition::all().add(time.eq(*at)).add(id.lt(last_id.clone())))
}

/// The SQLite URL for a database file, created if missing.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for error messages.
pub fn redact_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &credentials[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(redact_password("postgres://u:hunter2@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_password("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }

    #[tokio::test]
    async fn every_migration_can_be_undone_and_done_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_and_migrate(&sqlite_url(&dir.path().join("migrations.sqlite"))).await.unwrap();
        store.create_api("api", "aud").await.unwrap();
        migration::Migrator::down(&store.db, None).await.expect("every down runs");
        let tables: Vec<String> = store
            .db
            .query_all(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Sqlite,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'seaql_migrations'",
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String>("", "name").unwrap())
            .collect();
        assert!(tables.is_empty(), "tables left after every down: {tables:?}");
        migration::Migrator::up(&store.db, None).await.expect("and up again");
        assert!(store.list_apis().await.unwrap().is_empty());
        store.create_api("api", "aud").await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_transactions_of_two_processes_on_one_sqlite_file_wait_their_turn() {
        let dir = tempfile::tempdir().unwrap();
        let url = sqlite_url(&dir.path().join("shared.sqlite"));
        // Two stores with their own pools, as two auth-service processes on one file.
        let first = Store::open_and_migrate(&url).await.unwrap();
        let second = Store::open(&url).await.unwrap();
        // Each creation reads (is the audience taken?) before it writes, in one transaction.
        let creations: Vec<_> = (0..40)
            .map(|n| {
                let store = if n % 2 == 0 { first.clone() } else { second.clone() };
                tokio::spawn(async move { store.create_api(&format!("api {n}"), &format!("aud-{n}")).await })
            })
            .collect();
        for created in creations {
            created.await.expect("no task panicked").expect("no transaction fails with \"database is locked\"");
        }
        assert_eq!(first.list_apis().await.unwrap().len(), 40);
    }
}
