//! `claimflow run <Workflow.ts> --event event.json`: runs a workflow on this machine, in the
//! same sandbox and under the same rules as a worker and the signer, and prints what the token
//! would look like, without issuing anything.

use std::{path::PathBuf, sync::Arc};

use anyhow::{bail, Context};
use claimflow_contracts::{
    base_claims::{unix_now, M2mClaims, UserClaims, UserProfile},
    settings::Binding,
    workflow::{BaseClaims, ClaimPatch, WorkflowRef},
    Claims, TokenKind, Trigger,
};
use claimflow_workflow_runtime::{AllowList, Engine, Limits, Network, RunRequest, Services, TokenCache};
use serde_json::{json, Value};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The workflow file (Workflow.ts or .js).
    pub workflow: PathBuf,
    /// The event, as Kinde sends it (`{request, context}`).
    #[arg(long)]
    pub event: PathBuf,
    /// The token's claims before the workflow (default: M2M claims made from the event).
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// Environment variables for `kinde.env`: KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub environment: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let source =
        std::fs::read_to_string(&args.workflow).with_context(|| format!("cannot read {}", args.workflow.display()))?;
    // As deploy does: with the project files it imports, linked.
    let (project, name) = crate::deploy::project_of(&args.workflow)?;
    let mut files = vec![(name.clone(), source)];
    crate::deploy::add_imported_files(&project, &mut files)?;
    let (linked, errors) = claimflow_workflow_source::link_bundle(&files);
    if !errors.is_empty() {
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        bail!("{}", errors.join("\n"));
    }
    let Some(claimflow_workflow_source::LinkedWorkflow { source, module, graph, module_sources, .. }) =
        linked.into_iter().find(|workflow| workflow.path == name)
    else {
        bail!("{name} is imported by a file it imports: name it *Workflow.ts to run it as a workflow");
    };
    let graph = Arc::new(graph);
    let allow = AllowList::parse(&claimflow_platform::config::var("CLAIMFLOW_FETCH_ALLOW").unwrap_or_default())
        .map_err(|message| anyhow::anyhow!("CLAIMFLOW_FETCH_ALLOW: {message}"))?;
    let services = Arc::new(Services { network: Network::new(allow)?, token_cache: TokenCache::default() });
    // NOTE: V8's platform is initialized on the main thread, before the runtime.
    let engine = Engine::start(1).context("cannot start the workflow engine")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // As deploy does: the settings are what the evaluated module exports.
    let inspection = runtime.block_on(engine.run(RunRequest {
        code: module.code.clone().into(),
        source_name: name.clone(),
        source_map: module.source_map.clone().map(Into::into),
        graph: graph.clone(),
        workflow_id: String::new(),
        environment: Vec::new(),
        secure_fetch_key: None,
        trusted_host: None,
        services: services.clone(),
        span: tracing::Span::none(),
        bindings: Vec::new(),
        event: Value::Null,
        base_claims: Vec::new(),
        reset_claims: Vec::new(),
        limits: Limits { wall_time: std::time::Duration::from_secs(1), ..Limits::default() },
        inspect_only: true,
    }))?;
    let Some(exports) = inspection.exports else {
        let (path, line, column) = inspection.error_location.unwrap_or((name, 1, 1));
        let message = inspection.error.unwrap_or_else(|| "the module could not be evaluated".to_owned());
        anyhow::bail!("{path}:{line}:{column}: {message}");
    };
    let compiled = claimflow_workflow_source::read_settings(&name, &source, module, &exports)
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    for (path, source) in &module_sources {
        claimflow_workflow_source::check_module_bindings(path, source, &compiled.settings)
            .map_err(|err| anyhow::anyhow!("{err}"))?;
    }
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(&args.event).with_context(|| format!("cannot read {}", args.event.display()))?,
    )
    .with_context(|| format!("{} is not JSON", args.event.display()))?;
    let kind = match compiled.trigger {
        Trigger::M2mTokenGeneration => TokenKind::M2m,
        _ => TokenKind::Access,
    };
    // User tokens come in pairs: the ID token starts from the claims a sign-in would give it.
    // A sign-in trigger runs before any token exists.
    let (default_access, id_base) = match compiled.trigger {
        Trigger::UserTokensGeneration => {
            let (access, id) = default_user_base(&event);
            (access, Some(id))
        }
        Trigger::M2mTokenGeneration => (default_base(&event), None),
        _ => (Claims::new(), None),
    };
    let base: Claims = match &args.base {
        Some(path) => serde_json::from_str(
            &std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
        )
        .with_context(|| format!("{} is not a JSON object of claims", path.display()))?,
        None => default_access,
    };
    let bindings: Vec<Binding> = compiled.settings.bindings.keys().copied().collect();
    let environment = args
        .environment
        .iter()
        .map(|pair| {
            let (key, value) = pair.split_once('=').with_context(|| format!("--env {pair:?} is not KEY=VALUE"))?;
            Ok(claimflow_workflow_runtime::EnvironmentVariable {
                key: key.into(),
                value: value.into(),
                is_secret: false,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let trusted_host = event
        .pointer("/context/domains/kindeDomain")
        .and_then(Value::as_str)
        .and_then(|domain| url::Url::parse(domain).ok())
        .and_then(|url| url.host_str().map(str::to_owned));
    let outcome = runtime.block_on(engine.run(RunRequest {
        code: compiled.code.clone().into(),
        source_name: name.clone(),
        source_map: compiled.source_map.clone().map(Into::into),
        graph,
        workflow_id: compiled.workflow_id.clone(),
        environment,
        secure_fetch_key: None,
        trusted_host,
        services,
        span: tracing::Span::none(),
        bindings: bindings.clone(),
        event,
        base_claims:
            std::iter::once((kind, base.clone())).chain(id_base.clone().map(|id| (TokenKind::Id, id))).collect(),
        reset_claims: compiled.settings.reset_claims(),
        limits: Limits::default(),
        inspect_only: false,
    }))?;

    // The signer's rules, applied as a worker's patches would be.
    let workflow = WorkflowRef {
        workflow_id: compiled.workflow_id.clone(),
        deployment_id: "local".into(),
        version: 0,
        code_hash: compiled.code_hash.clone(),
        bindings: bindings.clone(),
        reset_claims: compiled.settings.reset_claims(),
        timeout_ms: Limits::default().wall_time.as_millis() as u64,
    };
    let patches: Vec<ClaimPatch> = outcome
        .claims_set
        .iter()
        .map(|(token, set)| ClaimPatch {
            workflow_id: workflow.workflow_id.clone(),
            version: 0,
            token: *token,
            set: set.clone(),
        })
        .collect();
    let merged = signer::merge::merge_patches(
        BaseClaims { access: base.clone(), id: id_base.clone() },
        kind,
        Some(signer::merge::DeployedPermissions { workflow: &workflow, settings: &compiled.settings }),
        patches,
        Limits::default().max_claims_bytes,
    );
    let (added, changed) = diff(&base, &merged.access);
    let (id_added, id_changed) = match (&id_base, &merged.id) {
        (Some(before), Some(after)) => diff(before, after),
        _ => (Claims::new(), Vec::new()),
    };
    if args.json {
        let report = json!({
            "workflow_id": compiled.workflow_id,
            "status": outcome.status.as_str(),
            "error": outcome.error,
            "denied": outcome.denied,
            "session_policy": outcome.session_policy,
            "mfa_enforcement": outcome.mfa_enforcement,
            "form_errors": outcome.form_errors.iter().map(|(field, message)| json!({ "field": field, "message": message })).collect::<Vec<_>>(),
            "logs": outcome.logs,
            "added": added,
            "changed": changed.iter().map(|(k, old, new)| json!({ "claim": k, "from": old, "to": new })).collect::<Vec<_>>(),
            "dropped": merged.rejected,
            "claims": merged.access,
            "id_token": merged.id.as_ref().map(|claims| json!({
                "added": id_added,
                "changed": id_changed.iter().map(|(k, old, new)| json!({ "claim": k, "from": old, "to": new })).collect::<Vec<_>>(),
                "claims": claims,
            })),
            "duration_us": outcome.duration.as_micros() as u64,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} ({}): {} in {:.2} ms",
            compiled.workflow_id,
            compiled.trigger,
            outcome.status.as_str(),
            outcome.duration.as_secs_f64() * 1e3
        );
        for line in &outcome.logs {
            println!("  [{}] {}", line.level, line.message);
        }
        if let Some(error) = &outcome.error {
            println!("error: {error}");
        }
        if let Some(reason) = &outcome.denied {
            println!("access denied: {reason}");
        }
        for (field, message) in &outcome.form_errors {
            println!("form field {field} refused: {message}");
        }
        if let Some(policy) = outcome.session_policy {
            let policy = serde_json::to_value(policy)?;
            println!("session policy: {} (the sign-in's session cookie)", policy.as_str().unwrap_or_default());
        }
        if let Some(enforcement) = outcome.mfa_enforcement {
            let enforcement = serde_json::to_value(enforcement)?;
            println!("MFA for this sign-in: {}", enforcement.as_str().unwrap_or_default());
        }
        // NOTE: a sign-in trigger shapes the sign-in (denied, session policy), no token.
        if compiled.trigger.makes_tokens() {
            print_claim_changes(&added, &changed, id_base.is_some(), &id_added, &id_changed, &merged.rejected);
        }
    }
    if outcome.status != claimflow_contracts::workflow::RunStatus::Ok {
        bail!("the workflow did not complete");
    }
    Ok(())
}

type Changes = Vec<(String, Value, Value)>;

fn print_claim_changes(
    added: &Claims,
    changed: &Changes,
    has_id: bool,
    id_added: &Claims,
    id_changed: &Changes,
    rejected: &[claimflow_contracts::signer::RejectedClaim],
) {
    println!("\nclaims against the base token:");
    for (claim, value) in added {
        println!("  + {claim}: {value}");
    }
    for (claim, old, new) in changed.iter() {
        println!("  ~ {claim}: {old} -> {new}");
    }
    if has_id {
        println!("\nID token claims against the base ID token:");
        for (claim, value) in id_added {
            println!("  + {claim}: {value}");
        }
        for (claim, old, new) in id_changed.iter() {
            println!("  ~ {claim}: {old} -> {new}");
        }
    }
    for dropped in rejected {
        println!(
            "  ! {} ({} token) dropped by the signer: {}",
            dropped.claim,
            dropped.token.as_str(),
            dropped.reason.describe()
        );
    }
    if added.is_empty() && changed.is_empty() && id_added.is_empty() && id_changed.is_empty() && rejected.is_empty() {
        println!("  (no change)");
    }
}

/// Claims in `after` that `before` lacked, and claims whose value changed.
fn diff(before: &Claims, after: &Claims) -> (Claims, Vec<(String, Value, Value)>) {
    let added = after.iter().filter(|(k, _)| !before.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let changed = after
        .iter()
        .filter_map(|(k, v)| before.get(k).filter(|old| *old != v).map(|old| (k.clone(), old.clone(), v.clone())))
        .collect();
    (added, changed)
}

/// The user access and ID token claims a sign-in would give for this event, before any workflow
/// (built as auth-service builds them, from what the event says).
fn default_user_base(event: &Value) -> (Claims, Claims) {
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    let audience: Vec<String> = event
        .pointer("/request/auth/audience")
        .and_then(Value::as_array)
        .map(|audience| audience.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let (client_id, issuer, user_id) =
        (text("/context/application/clientId"), text("/context/domains/kindeDomain"), text("/context/user/id"));
    let org_code = event.pointer("/context/organization/code").and_then(Value::as_str).map(str::to_owned);
    let organizations: Vec<String> = org_code.iter().cloned().collect();
    let scopes: Vec<String> = ["openid", "profile", "email", "offline"].map(str::to_owned).to_vec();
    let now = unix_now();
    let (access, id) = UserClaims {
        issuer: &issuer,
        client_id: &client_id,
        audience: &audience,
        scopes: &scopes,
        user: UserProfile { id: &user_id, email: "", given_name: "", family_name: "", updated_at: now },
        session_id: "local-run",
        auth_time: now,
        org_code: org_code.as_deref(),
        organizations: &organizations,
        roles: Vec::new(),
        permissions: &[],
        feature_flags: serde_json::Map::new(),
        nonce: None,
        now,
        lifetime_secs: 86_400,
        access_jti: "local-run",
        id_jti: "local-run-id",
    }
    .build();
    (access, id.unwrap_or_default())
}

/// The M2M claims auth-service would issue for this event, before any workflow.
fn default_base(event: &Value) -> Claims {
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    let audience = event.pointer("/request/auth/audience/0").and_then(Value::as_str).unwrap_or_default().to_owned();
    M2mClaims {
        issuer: &text("/context/domains/kindeDomain"),
        client_id: &text("/context/application/clientId"),
        audience: &audience,
        scopes: &[],
        now: unix_now(),
        lifetime_secs: 86_400,
        jti: "local-run",
        token_properties: &[],
    }
    .build()
}
