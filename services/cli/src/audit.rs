//! `claimflow audit`: the tokens issued, newest first, by client, organization, time or jti.

use crate::{
    management::{Connection, ManagementClient},
    workflows::{query, text, when},
};

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// Only tokens issued to this client.
    #[arg(long)]
    client: Option<String>,
    /// Only tokens of this organization.
    #[arg(long)]
    org: Option<String>,
    /// The token with this `jti`.
    #[arg(long)]
    jti: Option<String>,
    /// Only tokens issued at or after this RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// Only tokens issued before this RFC 3339 time.
    #[arg(long)]
    until: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: u64,
    #[command(flatten)]
    connection: Connection,
    #[arg(long)]
    json: bool,
}

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let query = query(&[
        ("page_size", Some(args.limit.to_string())),
        ("client_id", args.client),
        ("org_code", args.org),
        ("jti", args.jti),
        ("since", args.since),
        ("until", args.until),
    ]);
    let answer = ManagementClient::connect(&args.connection).await?.get(&format!("audit/tokens?{query}")).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    println!("{:<36} {:<26} {:<32} {:<18} {:<14} {:<32} WORKFLOWS", "JTI", "ISSUED", "CLIENT", "GRANT", "ORG", "TRACE");
    for token in answer["tokens"].as_array().into_iter().flatten() {
        let workflows: Vec<String> = token["workflows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|w| format!("{} v{}", text(&w["workflow_id"]), text(&w["version"])))
            .collect();
        println!(
            "{:<36} {:<26} {:<32} {:<18} {:<14} {:<32} {}",
            text(&token["jti"]),
            when(&token["issued_at"]),
            text(&token["client_id"]),
            text(&token["grant_type"]),
            text(&token["org_code"]),
            text(&token["trace_id"]),
            if workflows.is_empty() { "-".to_owned() } else { workflows.join(", ") }
        );
    }
    Ok(())
}
