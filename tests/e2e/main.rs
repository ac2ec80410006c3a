//! End-to-end: every test starts its own stack (nats-server child, database, auth-service,
//! signer, workflow-worker) and checks what a user of claimflow would see.

mod broker;
mod caches;
mod child;
mod client_authentication;
mod cluster;
mod corpus;
mod deploy;
mod email;
mod existing_password;
mod health;
mod hostile_input;
mod kinde_api_routes;
mod kinde_client;
mod login_page;
mod m2m_token;
mod management_api;
mod management_resources;
mod mfa;
mod nats_permissions;
mod openapi;
mod org_aware_m2m;
mod post_authentication;
mod project_imports;
mod records;
mod runtime_errors;
mod scaling;
mod sign_in_security;
mod sign_up;
mod signing;
mod slow_clients;
mod trace;
mod user_tokens;
mod usernames;
mod users_and_roles;
mod workflow_policy;
