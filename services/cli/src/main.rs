//! `claimflow`: run the whole stack locally, deploy workflows.

mod audit;
mod deploy;
mod dev;
mod keys;
mod local_run;
mod management;
mod workflows;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "claimflow", version, about = "Self-hosted tokens with programmable claims")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start auth-service, signer, a workflow-worker and a nats-server locally (SQLite by default).
    Dev(dev::DevArgs),
    /// Deploy the workflows of a Kinde-style project directory (kindeSrc/environment/workflows/*/Workflow.ts).
    Deploy(deploy::DeployArgs),
    /// Deployed workflows: list, roll back, delete.
    #[command(subcommand)]
    Workflows(workflows::WorkflowsCommand),
    /// Workflow runs: list, show one with its console output and claims.
    #[command(subcommand)]
    Runs(workflows::RunsCommand),
    /// Run a workflow locally against an event and print the token's claims, issuing nothing.
    Run(local_run::RunArgs),
    /// Issued tokens, newest first: by client, organization, time or jti.
    Audit(audit::AuditArgs),
    /// The deployment's signing keys: list, rotate, revoke.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Dev(args) => dev::run(args),
        Command::Deploy(args) => current_thread()?.block_on(deploy::run(args)),
        Command::Workflows(command) => current_thread()?.block_on(workflows::workflows(command)),
        Command::Runs(command) => current_thread()?.block_on(workflows::runs(command)),
        Command::Run(args) => local_run::run(args),
        Command::Audit(args) => current_thread()?.block_on(audit::run(args)),
        Command::Keys(command) => current_thread()?.block_on(keys::run(command)),
    }
}

fn current_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}
