//! `/api/v1/connections`: how users sign in. claimflow has one connection, email and password,
//! the one `event.context.auth.connectionId` names. Kinde's paths and shapes.

use axum::extract::Path;
use serde::Serialize;
use utoipa::ToSchema;

use super::{reply, Answer, ApiError, NotFound, Reply};
use crate::user_tokens::PASSWORD_CONNECTION_ID;

#[derive(Serialize, ToSchema, Clone)]
pub struct Connection {
    id: String,
    name: String,
    display_name: String,
    /// Kinde's strategy name.
    strategy: String,
}

fn password_connection() -> Connection {
    Connection {
        id: PASSWORD_CONNECTION_ID.to_owned(),
        name: "email-password".to_owned(),
        display_name: "Email and password".to_owned(),
        strategy: "email:password".to_owned(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConnectionList {
    connections: Vec<Connection>,
    has_more: bool,
}

#[utoipa::path(get, path = "/connections", summary = "List sign-in connections",
    security(("bearer" = ["read:connections"])), responses((status = 200, body = Reply<ConnectionList>)))]
pub async fn list() -> Answer<ConnectionList> {
    reply("OK", "Success", ConnectionList { connections: vec![password_connection()], has_more: false })
}

#[derive(Serialize, ToSchema)]
pub struct OneConnection {
    connection: Connection,
}

/// Kinde's `{code, message, connection: {...}}` (its SDKs' `Connection` wraps `ConnectionConnection`).
#[utoipa::path(get, path = "/connections/{connection_id}", summary = "Get a sign-in connection",
    security(("bearer" = ["read:connections"])), responses((status = 200, body = Reply<OneConnection>), NotFound))]
pub async fn get_one(Path(connection_id): Path<String>) -> Answer<OneConnection> {
    let connection = password_connection();
    if connection.id != connection_id {
        return Err(ApiError::not_found("connection", &connection_id));
    }
    reply("OK", "Success", OneConnection { connection })
}
