//! `claimflow keys`: the deployment's signing keys: list, rotate, revoke.

use serde_json::{json, Value};

use crate::{
    management::{Connection, ManagementClient},
    workflows::{text, when},
};

#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// The signing keys, newest first, with their state (next, active, retiring, retired, revoked).
    List {
        #[command(flatten)]
        connection: Connection,
        #[arg(long)]
        json: bool,
    },
    /// Publish a new key now; it signs after CLAIMFLOW_KEY_PUBLISH_LEAD_SECS (verifiers' caches learn it first).
    Rotate {
        #[command(flatten)]
        connection: Connection,
        #[arg(long)]
        json: bool,
    },
    /// Unpublish a key at once: tokens it signed stop verifying. A new key signs if it was signing.
    Revoke {
        /// The key's `kid`.
        kid: String,
        #[command(flatten)]
        connection: Connection,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    let (answer, json) = match command {
        KeysCommand::List { connection, json } => {
            (ManagementClient::connect(&connection).await?.get("signing_keys").await?, json)
        }
        KeysCommand::Rotate { connection, json } => {
            (ManagementClient::connect(&connection).await?.post("signing_keys/rotate", &json!({})).await?, json)
        }
        KeysCommand::Revoke { kid, connection, json } => {
            let path =
                format!("signing_keys/{}", url::form_urlencoded::byte_serialize(kid.as_bytes()).collect::<String>());
            (ManagementClient::connect(&connection).await?.delete(&path).await?, json)
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    println!("{:<24} {:<6} {:<9} {:<26} {:<26} PUBLISHED UNTIL", "KID", "ALG", "STATE", "CREATED", "SIGNS FROM");
    for key in answer["keys"].as_array().into_iter().flatten() {
        let until = match key["state"].as_str() {
            Some("retiring") => when(&Value::from(key["last_exp"].as_i64().unwrap_or_default() * 1000)),
            Some("retired") | Some("revoked") => "-".to_owned(),
            _ => "(in use)".to_owned(),
        };
        println!(
            "{:<24} {:<6} {:<9} {:<26} {:<26} {until}",
            text(&key["kid"]),
            text(&key["alg"]),
            text(&key["state"]),
            when(&key["created_at"]),
            when(&key["signs_from"]),
        );
    }
    Ok(())
}
