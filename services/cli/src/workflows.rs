//! `claimflow workflows list|rollback|delete` and `claimflow runs list|show`.

use anyhow::Context;
use serde_json::{json, Value};

use crate::management::{Connection, ManagementClient};

#[derive(clap::Subcommand, Debug)]
pub enum WorkflowsCommand {
    /// Every deployed version; LIVE marks the one that runs for its trigger.
    List {
        #[command(flatten)]
        connection: Connection,
        #[arg(long)]
        json: bool,
    },
    /// Make another version of a workflow live (roll back, or forward).
    Rollback {
        workflow: String,
        #[arg(long)]
        version: i32,
        #[command(flatten)]
        connection: Connection,
    },
    /// Delete a workflow and all its versions (its runs stay on record).
    Delete {
        workflow: String,
        #[command(flatten)]
        connection: Connection,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum RunsCommand {
    /// Recent runs, newest first.
    List {
        #[arg(long)]
        workflow: Option<String>,
        /// ok, failed, timed_out or out_of_memory.
        #[arg(long)]
        status: Option<String>,
        /// Only runs at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[command(flatten)]
        connection: Connection,
        #[arg(long)]
        json: bool,
    },
    /// One run: console output, claims it set, claims the signer dropped, error.
    Show {
        run: String,
        #[command(flatten)]
        connection: Connection,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// `name=value&...` for the filters that are set, values URL-encoded.
pub(crate) fn query(filters: &[(&str, Option<String>)]) -> String {
    filters
        .iter()
        .filter_map(|(name, value)| {
            let value = value.as_deref()?;
            Some(format!("{name}={}", url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()))
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn when(ms: &Value) -> String {
    ms.as_i64()
        .and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| text(ms))
}

pub async fn workflows(command: WorkflowsCommand) -> anyhow::Result<()> {
    match command {
        WorkflowsCommand::List { connection, json } => {
            let answer = ManagementClient::connect(&connection).await?.get("workflows").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            println!("{:<24} {:>7}  {:<4}  {:<24} {:<26} SOURCE", "WORKFLOW", "VERSION", "LIVE", "TRIGGER", "DEPLOYED");
            for d in answer["deployments"].as_array().into_iter().flatten() {
                println!(
                    "{:<24} {:>7}  {:<4}  {:<24} {:<26} {}",
                    text(&d["workflow_id"]),
                    text(&d["version"]),
                    if d["live"] == true { "yes" } else { "" },
                    text(&d["trigger"]),
                    when(&d["created_at"]),
                    text(&d["source_path"])
                );
            }
        }
        WorkflowsCommand::Rollback { workflow, version, connection } => {
            let client = ManagementClient::connect(&connection).await?;
            client
                .post(&format!("workflows/{workflow}/rollback"), &json!({ "version": version }))
                .await
                .with_context(|| format!("cannot make {workflow} version {version} live"))?;
            println!("{workflow} version {version} is live");
        }
        WorkflowsCommand::Delete { workflow, connection } => {
            let answer = ManagementClient::connect(&connection).await?.delete(&format!("workflows/{workflow}")).await?;
            println!("deleted {workflow} ({} versions)", text(&answer["versions_deleted"]));
        }
    }
    Ok(())
}

pub async fn runs(command: RunsCommand) -> anyhow::Result<()> {
    match command {
        RunsCommand::List { workflow, status, since, limit, connection, json } => {
            let query = query(&[
                ("page_size", Some(limit.to_string())),
                ("workflow_id", workflow),
                ("status", status),
                ("since", since),
            ]);
            let answer = ManagementClient::connect(&connection).await?.get(&format!("workflows/runs?{query}")).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            println!(
                "{:<32} {:<26} {:<20} {:>7}  {:<13} {:>9}  WORKER",
                "RUN", "WHEN", "WORKFLOW", "VERSION", "STATUS", "MS"
            );
            for run in answer["runs"].as_array().into_iter().flatten() {
                println!(
                    "{:<32} {:<26} {:<20} {:>7}  {:<13} {:>9.2}  {}",
                    text(&run["id"]),
                    when(&run["created_at"]),
                    text(&run["workflow_id"]),
                    text(&run["version"]),
                    text(&run["status"]),
                    run["duration_us"].as_f64().unwrap_or_default() / 1000.0,
                    text(&run["worker_id"])
                );
            }
        }
        RunsCommand::Show { run, connection, json } => {
            let answer = ManagementClient::connect(&connection).await?.get(&format!("workflows/runs/{run}")).await?;
            let run = &answer["run"];
            if json {
                println!("{}", serde_json::to_string_pretty(run)?);
                return Ok(());
            }
            println!("run       {}", text(&run["id"]));
            println!(
                "workflow  {} version {} ({})",
                text(&run["workflow_id"]),
                text(&run["version"]),
                text(&run["trigger"])
            );
            println!("when      {}", when(&run["created_at"]));
            println!(
                "status    {} in {:.2} ms on {}",
                text(&run["status"]),
                run["duration_us"].as_f64().unwrap_or_default() / 1000.0,
                text(&run["worker_id"])
            );
            if !run["error"].is_null() {
                println!("error     {}", text(&run["error"]));
            }
            println!("\nconsole");
            for line in run["logs"].as_array().into_iter().flatten() {
                println!("  [{}] {}", text(&line["level"]), text(&line["message"]));
            }
            println!("\nclaims set");
            for (token, claims) in run["claims_set"].as_object().into_iter().flatten() {
                for (name, value) in claims.as_object().into_iter().flatten() {
                    println!("  {token:<6} {name} = {value}");
                }
            }
            let rejected = run["rejected"].as_array().cloned().unwrap_or_default();
            if !rejected.is_empty() {
                println!("\ndropped by the signer");
                for claim in rejected {
                    println!("  {:<6} {} ({})", text(&claim["token"]), text(&claim["claim"]), text(&claim["reason"]));
                }
            }
        }
    }
    Ok(())
}
