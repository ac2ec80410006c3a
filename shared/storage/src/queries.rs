//! The queries services run. Each function is one unit of work; multi-row writes are
//! transactions.

use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::{
    entity::{
        api, api_application, api_application_scope, api_scope, application, live_workflow, workflow_deployment,
        workflow_run,
    },
    now_ms, Result, StorageError, Store,
};

/// What [`Store::bootstrap_management_api`] makes sure exists.
pub struct ManagementBootstrap<'a> {
    pub audience: &'a str,
    pub scopes: &'a [&'a str],
    pub admin_client_id: &'a str,
    pub admin_secret_hash: &'a str,
}

pub struct NewDeployment {
    pub workflow_id: String,
    pub name: String,
    pub trigger: String,
    pub settings: claimflow_contracts::settings::WorkflowSettings,
    pub source_path: String,
    pub source: String,
    pub code: String,
    pub code_hash: String,
    pub source_map: Option<String>,
    pub timeout_ms: Option<i64>,
}

/// Filters for [`Store::list_runs`].
#[derive(Debug, Default, Clone)]
pub struct RunFilter {
    pub workflow_id: Option<String>,
    pub status: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since_ms: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub until_ms: Option<i64>,
    /// Runs strictly older than this `(created_at, id)` (the previous page's last run).
    pub before: Option<(i64, String)>,
    pub limit: u64,
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

/// Authorizes an application for an API; already authorized is fine.
async fn insert_authorization(db: &impl ConnectionTrait, api_id: &str, application_id: &str) -> Result<()> {
    let row = api_application::ActiveModel {
        api_id: Set(api_id.to_owned()),
        application_id: Set(application_id.to_owned()),
        created_at: Set(now_ms()),
    };
    insert_unless_present(db, row, [api_application::Column::ApiId, api_application::Column::ApplicationId]).await
}

/// Grants a scope to an authorized application; already granted is fine.
async fn insert_grant(db: &impl ConnectionTrait, api_id: &str, application_id: &str, scope_id: String) -> Result<()> {
    let row = api_application_scope::ActiveModel {
        api_id: Set(api_id.to_owned()),
        application_id: Set(application_id.to_owned()),
        scope_id: Set(scope_id),
    };
    let key = [
        api_application_scope::Column::ApiId,
        api_application_scope::Column::ApplicationId,
        api_application_scope::Column::ScopeId,
    ];
    insert_unless_present(db, row, key).await
}

pub(crate) fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Store {
    /// Creates the management API (`<issuer>/api`) with every scope, and the admin application
    /// authorized for it with all of them. Idempotent; the admin secret is replaced when it
    /// changed (credentials from the environment win).
    pub async fn bootstrap_management_api(&self, bootstrap: ManagementBootstrap<'_>) -> Result<()> {
        let txn = self.begin_write().await?;
        let now = now_ms();
        let api = match api::Entity::find().filter(api::Column::Audience.eq(bootstrap.audience)).one(&txn).await? {
            Some(api) => api,
            None => {
                api::ActiveModel {
                    id: Set(random_id()),
                    name: Set("claimflow management API".to_owned()),
                    audience: Set(bootstrap.audience.to_owned()),
                    is_management_api: Set(true),
                    created_at: Set(now),
                }
                .insert(&txn)
                .await?
            }
        };
        let existing: Vec<api_scope::Model> =
            api_scope::Entity::find().filter(api_scope::Column::ApiId.eq(&api.id)).all(&txn).await?;
        let mut scope_ids: Vec<String> = existing.iter().map(|scope| scope.id.clone()).collect();
        for key in bootstrap.scopes {
            if existing.iter().any(|scope| scope.key == *key) {
                continue;
            }
            let scope = api_scope::ActiveModel {
                id: Set(random_id()),
                api_id: Set(api.id.clone()),
                key: Set((*key).to_owned()),
                description: Set(String::new()),
            }
            .insert(&txn)
            .await?;
            scope_ids.push(scope.id);
        }
        match application::Entity::find_by_id(bootstrap.admin_client_id).one(&txn).await? {
            Some(admin) if admin.client_secret_hash.as_deref() == Some(bootstrap.admin_secret_hash) => {}
            Some(admin) => {
                let mut admin: application::ActiveModel = admin.into();
                admin.client_secret_hash = Set(Some(bootstrap.admin_secret_hash.to_owned()));
                admin.update(&txn).await?;
            }
            None => {
                application::ActiveModel {
                    id: Set(bootstrap.admin_client_id.to_owned()),
                    name: Set("claimflow admin".to_owned()),
                    app_type: Set("m2m".to_owned()),
                    client_secret_hash: Set(Some(bootstrap.admin_secret_hash.to_owned())),
                    created_at: Set(now),
                    access_token_lifetime: Set(None),
                }
                .insert(&txn)
                .await?;
            }
        }
        insert_authorization(&txn, &api.id, bootstrap.admin_client_id).await?;
        for scope_id in scope_ids {
            insert_grant(&txn, &api.id, bootstrap.admin_client_id, scope_id).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    pub async fn create_application(
        &self,
        name: &str,
        app_type: &str,
        client_secret_hash: Option<String>,
    ) -> Result<application::Model> {
        Ok(application::ActiveModel {
            id: Set(random_id()),
            name: Set(name.to_owned()),
            app_type: Set(app_type.to_owned()),
            client_secret_hash: Set(client_secret_hash),
            created_at: Set(now_ms()),
            access_token_lifetime: Set(None),
        }
        .insert(&self.db)
        .await?)
    }

    pub async fn find_application(&self, id: &str) -> Result<Option<application::Model>> {
        Ok(application::Entity::find_by_id(id).one(&self.db).await?)
    }

    pub async fn list_applications(&self) -> Result<Vec<application::Model>> {
        Ok(application::Entity::find().order_by_asc(application::Column::CreatedAt).all(&self.db).await?)
    }

    pub async fn create_api(&self, name: &str, audience: &str) -> Result<api::Model> {
        let txn = self.begin_write().await?;
        if let Some(existing) = api::Entity::find().filter(api::Column::Audience.eq(audience)).one(&txn).await? {
            return Err(StorageError::Conflict(format!(
                "audience {audience:?} is already used by API {}",
                existing.id
            )));
        }
        let api = api::ActiveModel {
            id: Set(random_id()),
            name: Set(name.to_owned()),
            audience: Set(audience.to_owned()),
            is_management_api: Set(false),
            created_at: Set(now_ms()),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(api)
    }

    pub async fn list_apis(&self) -> Result<Vec<api::Model>> {
        Ok(api::Entity::find().order_by_asc(api::Column::CreatedAt).all(&self.db).await?)
    }

    pub async fn find_api(&self, id: &str) -> Result<Option<api::Model>> {
        Ok(api::Entity::find_by_id(id).one(&self.db).await?)
    }

    pub async fn find_api_by_audience(&self, audience: &str) -> Result<Option<api::Model>> {
        Ok(api::Entity::find().filter(api::Column::Audience.eq(audience)).one(&self.db).await?)
    }

    pub async fn list_api_scopes(&self, api_id: &str) -> Result<Vec<api_scope::Model>> {
        Ok(api_scope::Entity::find()
            .filter(api_scope::Column::ApiId.eq(api_id))
            .order_by_asc(api_scope::Column::Key)
            .all(&self.db)
            .await?)
    }

    /// Authorizes and revokes applications for an API in one transaction: an unknown
    /// application anywhere in the list changes nothing.
    pub async fn set_api_applications(&self, api_id: &str, authorize: &[String], revoke: &[String]) -> Result<()> {
        let txn = self.begin_write().await?;
        for application_id in authorize.iter().chain(revoke) {
            if application::Entity::find_by_id(application_id).one(&txn).await?.is_none() {
                return Err(StorageError::NotFound { what: "application", id: application_id.clone() });
            }
        }
        for application_id in authorize {
            insert_authorization(&txn, api_id, application_id).await?;
        }
        for application_id in revoke {
            api_application_scope::Entity::delete_many()
                .filter(api_application_scope::Column::ApiId.eq(api_id))
                .filter(api_application_scope::Column::ApplicationId.eq(application_id))
                .exec(&txn)
                .await?;
            api_application::Entity::delete_many()
                .filter(api_application::Column::ApiId.eq(api_id))
                .filter(api_application::Column::ApplicationId.eq(application_id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The scopes granted to an application for an API, or `None` when it is not authorized.
    pub async fn granted_scopes(&self, api_id: &str, application_id: &str) -> Result<Option<Vec<String>>> {
        let authorized =
            api_application::Entity::find_by_id((api_id.to_owned(), application_id.to_owned())).one(&self.db).await?;
        if authorized.is_none() {
            return Ok(None);
        }
        let granted: Vec<String> = api_application_scope::Entity::find()
            .filter(api_application_scope::Column::ApiId.eq(api_id))
            .filter(api_application_scope::Column::ApplicationId.eq(application_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|grant| grant.scope_id)
            .collect();
        let mut keys: Vec<String> = api_scope::Entity::find()
            .filter(api_scope::Column::Id.is_in(granted))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|scope| scope.key)
            .collect();
        keys.sort();
        Ok(Some(keys))
    }

    /// Stores each workflow as its next version and makes it the live one for its trigger, all
    /// or nothing.
    pub async fn deploy_workflows(&self, deployments: Vec<NewDeployment>) -> Result<Vec<workflow_deployment::Model>> {
        let txn = self.begin_write().await?;
        let now = now_ms();
        let mut deployed = Vec::with_capacity(deployments.len());
        for new in deployments {
            let latest: Option<i32> = workflow_deployment::Entity::find()
                .select_only()
                .column_as(workflow_deployment::Column::Version.max(), "latest")
                .filter(workflow_deployment::Column::WorkflowId.eq(&new.workflow_id))
                .into_tuple::<Option<i32>>()
                .one(&txn)
                .await?
                .flatten();
            let deployment = workflow_deployment::ActiveModel {
                id: Set(random_id()),
                workflow_id: Set(new.workflow_id),
                version: Set(latest.unwrap_or(0) + 1),
                name: Set(new.name),
                trigger: Set(new.trigger.clone()),
                settings: Set(workflow_deployment::StoredSettings(new.settings)),
                source_path: Set(new.source_path),
                source: Set(new.source),
                code: Set(new.code),
                code_hash: Set(new.code_hash),
                source_map: Set(new.source_map),
                timeout_ms: Set(new.timeout_ms),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
            live_workflow::Entity::insert(live_workflow::ActiveModel {
                trigger: Set(new.trigger),
                deployment_id: Set(deployment.id.clone()),
                updated_at: Set(now),
            })
            .on_conflict(
                OnConflict::column(live_workflow::Column::Trigger)
                    .update_columns([live_workflow::Column::DeploymentId, live_workflow::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
            deployed.push(deployment);
        }
        txn.commit().await?;
        Ok(deployed)
    }

    /// The deployment that runs for `trigger`, if any.
    /// One query: this runs on every token request.
    pub async fn live_deployment(&self, trigger: &str) -> Result<Option<workflow_deployment::Model>> {
        use sea_orm::sea_query::Query;
        let live = Query::select()
            .column(live_workflow::Column::DeploymentId)
            .from(live_workflow::Entity)
            .and_where(live_workflow::Column::Trigger.eq(trigger))
            .to_owned();
        Ok(workflow_deployment::Entity::find()
            .filter(workflow_deployment::Column::Id.in_subquery(live))
            .one(&self.db)
            .await?)
    }

    pub async fn find_deployment(&self, id: &str) -> Result<Option<workflow_deployment::Model>> {
        Ok(workflow_deployment::Entity::find_by_id(id).one(&self.db).await?)
    }

    pub async fn list_deployments(&self) -> Result<Vec<workflow_deployment::Model>> {
        Ok(workflow_deployment::Entity::find()
            .order_by_asc(workflow_deployment::Column::WorkflowId)
            .order_by_asc(workflow_deployment::Column::Version)
            .all(&self.db)
            .await?)
    }

    pub async fn live_deployment_ids(&self) -> Result<Vec<String>> {
        Ok(live_workflow::Entity::find().all(&self.db).await?.into_iter().map(|live| live.deployment_id).collect())
    }

    /// A deployment whose transpiled code has this content hash.
    pub async fn deployment_by_code_hash(&self, code_hash: &str) -> Result<Option<workflow_deployment::Model>> {
        Ok(workflow_deployment::Entity::find()
            .filter(workflow_deployment::Column::CodeHash.eq(code_hash))
            .one(&self.db)
            .await?)
    }

    pub async fn set_access_token_lifetime(&self, application_id: &str, seconds: Option<i64>) -> Result<()> {
        let application = application::Entity::find_by_id(application_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| StorageError::NotFound { what: "application", id: application_id.to_owned() })?;
        let mut application: application::ActiveModel = application.into();
        application.access_token_lifetime = Set(seconds);
        application.update(&self.db).await?;
        Ok(())
    }

    /// Most recent runs first.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<workflow_run::Model>> {
        let mut query = workflow_run::Entity::find()
            .order_by_desc(workflow_run::Column::CreatedAt)
            .order_by_desc(workflow_run::Column::Id);
        if let Some(workflow_id) = &filter.workflow_id {
            query = query.filter(workflow_run::Column::WorkflowId.eq(workflow_id));
        }
        if let Some(status) = &filter.status {
            query = query.filter(workflow_run::Column::Status.eq(status));
        }
        if let Some(since) = filter.since_ms {
            query = query.filter(workflow_run::Column::CreatedAt.gte(since));
        }
        if let Some(until) = filter.until_ms {
            query = query.filter(workflow_run::Column::CreatedAt.lt(until));
        }
        if let Some(before) = &filter.before {
            query = query.filter(crate::records::older_than(
                workflow_run::Column::CreatedAt,
                workflow_run::Column::Id,
                before,
            ));
        }
        Ok(query.limit(filter.limit.clamp(1, 500)).all(&self.db).await?)
    }

    pub async fn find_run(&self, id: &str) -> Result<Option<workflow_run::Model>> {
        Ok(workflow_run::Entity::find_by_id(id).one(&self.db).await?)
    }

    /// Makes an earlier (or any) version of a workflow the live one for its trigger.
    pub async fn make_live(&self, workflow_id: &str, version: i32) -> Result<workflow_deployment::Model> {
        let txn = self.begin_write().await?;
        let deployment = workflow_deployment::Entity::find()
            .filter(workflow_deployment::Column::WorkflowId.eq(workflow_id))
            .filter(workflow_deployment::Column::Version.eq(version))
            .one(&txn)
            .await?
            .ok_or_else(|| StorageError::NotFound {
                what: "workflow version",
                id: format!("{workflow_id} v{version}"),
            })?;
        live_workflow::Entity::insert(live_workflow::ActiveModel {
            trigger: Set(deployment.trigger.clone()),
            deployment_id: Set(deployment.id.clone()),
            updated_at: Set(now_ms()),
        })
        .on_conflict(
            OnConflict::column(live_workflow::Column::Trigger)
                .update_columns([live_workflow::Column::DeploymentId, live_workflow::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
        txn.commit().await?;
        Ok(deployment)
    }

    /// Deletes a workflow: it stops running, its versions are removed; its runs stay on record.
    pub async fn delete_workflow(&self, workflow_id: &str) -> Result<u64> {
        use sea_orm::sea_query::Query;
        let txn = self.begin_write().await?;
        let versions = Query::select()
            .column(workflow_deployment::Column::Id)
            .from(workflow_deployment::Entity)
            .and_where(workflow_deployment::Column::WorkflowId.eq(workflow_id))
            .to_owned();
        live_workflow::Entity::delete_many()
            .filter(live_workflow::Column::DeploymentId.in_subquery(versions))
            .exec(&txn)
            .await?;
        let deleted = workflow_deployment::Entity::delete_many()
            .filter(workflow_deployment::Column::WorkflowId.eq(workflow_id))
            .exec(&txn)
            .await?
            .rows_affected;
        if deleted == 0 {
            return Err(StorageError::NotFound { what: "workflow", id: workflow_id.to_owned() });
        }
        txn.commit().await?;
        Ok(deleted)
    }

    /// Grants one of an API's scopes to an application already authorized for it.
    pub async fn grant_scope(&self, api_id: &str, application_id: &str, scope_id: &str) -> Result<()> {
        let scope = api_scope::Entity::find_by_id(scope_id)
            .one(&self.db)
            .await?
            .filter(|scope| scope.api_id == api_id)
            .ok_or_else(|| StorageError::NotFound { what: "scope", id: scope_id.to_owned() })?;
        api_application::Entity::find_by_id((api_id.to_owned(), application_id.to_owned()))
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                StorageError::Conflict(format!(
                    "application {application_id} is not authorized for API {api_id}; authorize it first"
                ))
            })?;
        insert_grant(&self.db, api_id, application_id, scope.id).await
    }
}
