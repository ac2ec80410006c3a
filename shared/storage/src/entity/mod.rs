//! sea-orm entities, one module a table. Times are Unix milliseconds (portable between SQLite and
//! PostgreSQL without timezone surprises).

pub mod api;
pub mod api_application;
pub mod api_application_scope;
pub mod api_scope;
pub mod application;
pub mod application_property;
pub mod application_token_property;
pub mod application_url;
pub mod environment_variable;
pub mod identity;
pub mod live_workflow;
pub mod organization;
pub mod property;
pub mod sign_in;
pub mod token_audit;
pub mod workflow_deployment;
pub mod workflow_run;
