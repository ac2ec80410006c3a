//! `claimflow dev`: the whole system on one machine. auth-service, signer and one
//! workflow-worker run as tasks of this process; NATS is a `nats-server` child process (or
//! `NATS_URL`); storage is a SQLite file in the data directory (or `DATABASE_URL`).

use std::time::Duration;

use anyhow::Context;
use claimflow_platform::{config::CommonConfig, nats_server::NatsServer};
use claimflow_workflow_runtime::Engine;
use tokio::task::JoinSet;

#[derive(clap::Args, Debug)]
pub struct DevArgs {
    /// Workflow runs at once in the worker (default: the number of CPUs).
    #[arg(long, env = "CLAIMFLOW_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
}

pub fn run(args: DevArgs) -> anyhow::Result<()> {
    let mut worker_config = workflow_worker::Config::from_env()?;
    if let Some(threads) = args.worker_threads {
        worker_config.threads = threads;
    }
    // NOTE: V8's platform must be initialized on the main thread before any isolate thread.
    let engine = Engine::start_with_heap(worker_config.threads, worker_config.heap_bytes)
        .context("cannot start the workflow engine")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let telemetry = claimflow_platform::telemetry::init("claimflow-dev")?;
        let result = serve(worker_config, engine).await;
        tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
        result
    })
}

async fn serve(mut worker_config: workflow_worker::Config, engine: Engine) -> anyhow::Result<()> {
    let shutdown = claimflow_platform::shutdown::on_signal();
    let common = CommonConfig::from_env()?;
    common.ensure_data_dir()?;
    let (nats_server, nats_url) = match claimflow_platform::config::var("NATS_URL") {
        Some(url) => (None, url),
        None => {
            eprintln!("starting nats-server ...");
            let store = common.data_dir.join("nats");
            std::fs::create_dir_all(&store).with_context(|| format!("cannot create {}", store.display()))?;
            let server = NatsServer::start(&store).await?;
            let url = server.url();
            (Some(server), url)
        }
    };
    let mut auth_config = auth_service::Config::from_env()?;
    let mut signer_config = signer::Config::from_env()?;
    // NOTE: in one process, auth-service's /healthz, /readyz and /metrics cover all three.
    signer_config.health_addr = None;
    worker_config.health_addr = None;
    auth_config.common.nats_url = nats_url.clone();
    signer_config.common.nats_url = nats_url.clone();
    worker_config.common.nats_url = nats_url.clone();
    let listener = tokio::net::TcpListener::bind(auth_config.http_addr).await.with_context(|| {
        format!("cannot listen on {} (set CLAIMFLOW_HTTP_ADDR to another address)", auth_config.http_addr)
    })?;

    let issuer = auth_config.issuer.clone();
    let admin = auth_config.admin.clone();
    let database = claimflow_storage::redact_password(&auth_config.common.database_url);
    let mut services = JoinSet::new();
    {
        let shutdown = shutdown.clone();
        services.spawn(async move { signer::run(signer_config, shutdown).await.context("signer") });
    }
    {
        let shutdown = shutdown.clone();
        services.spawn(async move {
            workflow_worker::run(worker_config, engine, shutdown).await.context("workflow-worker")
        });
    }
    {
        let shutdown = shutdown.clone();
        services.spawn(async move {
            auth_service::run_with_listener(auth_config, listener, shutdown).await.context("auth-service")
        });
    }
    eprintln!("starting auth-service, signer and workflow-worker ...");
    wait_until_ready(&issuer, &admin).await;
    println!(
        "\nclaimflow is running\n\
         \n  issuer         {issuer}\
         \n  admin client   {id}\
         \n  admin secret   {secret}\
         \n  nats           {nats_url}{child}\
         \n  database       {database}\
         \n\nA management token:\
         \n  curl -d grant_type=client_credentials -d client_id={id} -d client_secret={secret} -d audience={issuer}/api {issuer}/oauth2/token\
         \n\nThe M2M tour (API, application, workflow, token with a custom claim):\
         \n  examples/m2m-hello/try.sh\
         \n\nPress Ctrl-C to stop.",
        id = admin.client_id,
        secret = admin.client_secret,
        child = if nats_server.is_some() { " (child process)" } else { "" },
    );

    let drain: u64 = claimflow_platform::config::parse_or("CLAIMFLOW_DRAIN_TIMEOUT_SECS", 10)?;
    let first_error = supervise(services, nats_server, shutdown, Duration::from_secs(drain)).await;
    match first_error {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// Runs until a service stops (an error, or the signal) or the nats-server child dies, then
/// stops the others and waits for their drain, so in-flight requests are answered before the
/// broker goes away; at most `drain`, after which they are stopped where they are. The child is
/// always reaped. Gives the first error.
async fn supervise(
    mut services: JoinSet<anyhow::Result<()>>,
    mut nats_server: Option<NatsServer>,
    shutdown: tokio_util::sync::CancellationToken,
    drain: Duration,
) -> Option<anyhow::Error> {
    let mut first_error = None;
    let mut deadline = None;
    loop {
        let broker_exit = async {
            match nats_server.as_mut() {
                Some(server) => server.exited().await,
                None => std::future::pending().await,
            }
        };
        let drain_over = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            joined = services.join_next() => {
                let Some(joined) = joined else { break };
                shutdown.cancel();
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => {
                        eprintln!("error: {err:#}");
                        first_error.get_or_insert(err);
                    }
                    Err(err) => {
                        first_error.get_or_insert(anyhow::anyhow!("a service task failed: {err}"));
                    }
                }
            }
            status = broker_exit => {
                nats_server = None;
                let status = status.map_or_else(|err| err.to_string(), |status| status.to_string());
                eprintln!("error: the nats-server child process exited ({status}); stopping");
                first_error.get_or_insert(anyhow::anyhow!("the nats-server child process exited ({status})"));
                shutdown.cancel();
            }
            _ = shutdown.cancelled(), if deadline.is_none() => {
                deadline = Some(tokio::time::Instant::now() + drain);
            }
            _ = drain_over => {
                eprintln!("the services did not drain within {drain:?} (CLAIMFLOW_DRAIN_TIMEOUT_SECS); stopping them");
                services.shutdown().await;
                break;
            }
        }
    }
    if let Some(server) = nats_server {
        server.kill().await;
    }
    first_error
}

/// Ready when a token can be issued: auth-service is ready (which needs a signer's keys), and
/// the admin application gets a management token.
async fn wait_until_ready(issuer: &str, admin: &auth_service::AdminCredentials) {
    let client = reqwest::Client::new();
    let audience = format!("{issuer}/api");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", admin.client_id.as_str()),
        ("client_secret", admin.client_secret.as_str()),
        ("audience", audience.as_str()),
    ];
    let ready = || async {
        let readyz = client.get(format!("{issuer}/readyz")).send().await.is_ok_and(|r| r.status().is_success());
        readyz
            && client
                .post(format!("{issuer}/oauth2/token"))
                .form(&form)
                .send()
                .await
                .is_ok_and(|response| response.status().is_success())
    };
    for _ in 0..300 {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("warning: {issuer} could not issue a token within 30 s; see the log above");
}
