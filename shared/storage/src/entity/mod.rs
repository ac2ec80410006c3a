//! sea-orm entities, one file a table. Times are Unix milliseconds (portable between SQLite and
//! PostgreSQL without timezone surprises).

pub mod access_key;
pub mod api;
pub mod api_application;
pub mod api_application_scope;
pub mod api_scope;
pub mod application;
pub mod application_property;
pub mod application_token_property;
pub mod application_url;
pub mod authorization_code;
pub mod email_code;
pub mod environment_variable;
pub mod feature_flag;
pub mod live_workflow;
pub mod login_failure;
pub mod mfa_challenge;
pub mod organization;
pub mod organization_property;
pub mod organization_user;
pub mod organization_user_grant;
pub mod property;
pub mod recovery_code;
pub mod refresh_token;
pub mod role_permission;
pub mod session;
pub mod setting;
pub mod signing_key;
pub mod token_audit;
pub mod user;
pub mod user_property;
pub mod workflow_deployment;
pub mod workflow_run;
