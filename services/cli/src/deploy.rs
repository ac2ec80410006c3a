//! `claimflow deploy <dir>`: finds the workflows of a Kinde-style project and deploys them in one
//! all-or-nothing request.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::management::{Connection, ManagementClient};

#[derive(clap::Args, Debug)]
pub struct DeployArgs {
    /// The project directory (holding kinde.json or kindeSrc/).
    pub dir: PathBuf,
    #[command(flatten)]
    pub connection: Connection,
    /// Wall-time limit of each run of these workflows, in milliseconds (default: the server's, 5000).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: DeployArgs) -> anyhow::Result<()> {
    let mut files = collect_workflows(&args.dir)?;
    let workflows = files.len();
    add_imported_files(&args.dir, &mut files)?;
    eprintln!(
        "found {workflows} workflow file(s) under {}, importing {} project file(s)",
        args.dir.display(),
        files.len() - workflows
    );
    let client = ManagementClient::connect(&args.connection).await?;
    eprintln!("deploying to {} ...", args.connection.issuer);
    let bundle: Vec<Value> = files.iter().map(|(path, content)| json!({ "path": path, "content": content })).collect();
    let mut request = json!({ "files": bundle });
    if let Some(timeout_ms) = args.timeout_ms {
        request["timeout_ms"] = json!(timeout_ms);
    }
    let answer = client.post("workflows/deployments", &request).await.context("deploy failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    println!("{:<24} {:>7}  {:<24} SOURCE", "WORKFLOW", "VERSION", "TRIGGER");
    for deployment in answer.get("deployments").and_then(Value::as_array).into_iter().flatten() {
        let field = |name: &str| {
            deployment
                .get(name)
                .map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
                .unwrap_or_default()
        };
        println!(
            "{:<24} {:>7}  {:<24} {}",
            field("workflow_id"),
            field("version"),
            field("trigger"),
            field("source_path")
        );
    }
    Ok(())
}

/// `(path relative to dir, content)` for every `*workflow.ts|js` under
/// `<rootDir>/environment/workflows`, where rootDir comes from `kinde.json` (default `kindeSrc`).
pub fn collect_workflows(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let root = match std::fs::read_to_string(dir.join("kinde.json")) {
        Ok(text) => {
            let config: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", dir.join("kinde.json").display()))?;
            config.get("rootDir").and_then(Value::as_str).unwrap_or("kindeSrc").to_owned()
        }
        Err(_) => "kindeSrc".to_owned(),
    };
    let workflows_dir = dir.join(&root).join("environment").join("workflows");
    if !workflows_dir.is_dir() {
        bail!(
            "{} does not exist: a project keeps its workflows in <rootDir>/environment/workflows/<name>/Workflow.ts",
            workflows_dir.display()
        );
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&workflows_dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot read {}", workflows_dir.display()))?;
        let name = entry.file_name().to_string_lossy();
        if !entry.file_type().is_file() || !claimflow_workflow_source::is_workflow_file(&name) {
            continue;
        }
        let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let content =
            std::fs::read_to_string(entry.path()).with_context(|| format!("cannot read {}", entry.path().display()))?;
        files.push((relative.to_string_lossy().replace('\\', "/"), content));
    }
    if files.is_empty() {
        bail!("no Workflow.ts or Workflow.js under {}", workflows_dir.display());
    }
    Ok(files)
}

/// Adds to `files` (paths relative to the project directory `dir`) every project file they import,
/// however indirectly, read from under `dir`. An import that cannot be followed is left for deploy
/// to refuse, with its place, as the server does.
pub fn add_imported_files(dir: &Path, files: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    use claimflow_workflow_source::{resolve_import, transpile, Resolved};
    let mut next = 0;
    while let Some((path, content)) = files.get(next).cloned() {
        next += 1;
        let Ok(module) = transpile(&path, &content) else { continue };
        for import in &module.imports {
            let exists = |candidate: &str| dir.join(candidate).is_file();
            let Ok(Resolved::File(target)) = resolve_import(&path, &import.specifier, exists) else { continue };
            if files.iter().any(|(known, _)| *known == target) {
                continue;
            }
            let file = dir.join(&target);
            let content = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {} (imported by {path})", file.display()))?;
            files.push((target, content));
        }
    }
    Ok(())
}

/// The project a file belongs to: the nearest directory above it holding `kinde.json` or
/// `kindeSrc/`, else its own directory; and the file's path in it.
pub fn project_of(file: &Path) -> anyhow::Result<(PathBuf, String)> {
    let file = file.canonicalize().with_context(|| format!("cannot read {}", file.display()))?;
    let own = file.parent().map(Path::to_owned).unwrap_or_default();
    let root = own
        .ancestors()
        .find(|dir| dir.join("kinde.json").is_file() || dir.join("kindeSrc").is_dir())
        .map(Path::to_owned)
        .unwrap_or(own);
    let relative = file.strip_prefix(&root).unwrap_or(&file).to_string_lossy().replace('\\', "/");
    Ok((root, relative))
}
