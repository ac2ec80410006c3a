//! `claimflow`: run the whole stack locally, deploy workflows.

mod deploy;
mod dev;
mod management;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Dev(args) => dev::run(args),
        Command::Deploy(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(deploy::run(args))
        }
    }
}
