//! A whole claimflow stack per test: its broker, database, services and the requests tests make.

use std::time::Duration;

use anyhow::Context;
use auth_service::AdminCredentials;
use claimflow_platform::{
    config::{normalise_prefix, CommonConfig},
    nats_server::NatsServer,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::*;

#[derive(Debug, Clone)]
pub struct StackOptions {
    pub workflow_timeout: Duration,
    /// Run NATS with `deploy/nats/nats.conf`: a user per service, least permissions.
    pub secured_nats: bool,
    /// Serve the signer's and the worker's `/healthz`, `/readyz`, `/metrics`.
    pub health: bool,
    pub refresh_token_lifetime: Duration,
    /// `CLAIMFLOW_SIGNING_ALG` of the stack's signer.
    pub signing_alg: signer::keys::SigningAlgorithm,
    /// auth-service's timeouts and connection bound.
    pub http_limits: auth_service::HttpLimits,
    /// Run the stack's own worker (`worker-0`, in the test process); without it a test starts
    /// the workers it needs.
    pub worker: bool,
    /// `CLAIMFLOW_FETCH_ALLOW` of the stack's workers.
    pub fetch_allow: claimflow_workflow_runtime::AllowList,
    /// `CLAIMFLOW_KEY_PUBLISH_LEAD_SECS` of the stack's signers.
    pub key_publish_lead: Duration,
    /// `CLAIMFLOW_KEY_ROTATION_DAYS` of the stack's signers, as a period.
    pub key_rotation: Option<Duration>,
    /// Run a cluster of 3 nats-servers with routes instead of one; services get all 3 URLs.
    pub nats_cluster: bool,
    /// `CLAIMFLOW_SMTP_URL` of the stack's auth-services (a [`crate::MailSink`]'s URL).
    pub smtp_url: Option<String>,
    /// `CLAIMFLOW_USERNAMES` of the stack's auth-services.
    pub usernames: auth_service::config::Usernames,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            workflow_timeout: Duration::from_secs(5),
            secured_nats: false,
            health: false,
            refresh_token_lifetime: Duration::from_secs(3600),
            signing_alg: Default::default(),
            http_limits: Default::default(),
            worker: true,
            fetch_allow: Default::default(),
            key_publish_lead: Duration::from_secs(600),
            key_rotation: None,
            nats_cluster: false,
            smtp_url: None,
            usernames: Default::default(),
        }
    }
}

/// The NATS users of `deploy/nats/nats.conf` and the passwords the secured test stacks give them.
pub const NATS_USERS: [(&str, &str, &str); 3] = [
    ("auth-service", "NATS_AUTH_SERVICE_PASSWORD", "auth-secret"),
    ("workflow-worker", "NATS_WORKFLOW_WORKER_PASSWORD", "worker-secret"),
    ("signer", "NATS_SIGNER_PASSWORD", "signer-secret"),
];

pub(crate) fn nats_credentials(user: &str) -> Option<(String, String)> {
    NATS_USERS
        .iter()
        .find(|(name, _, _)| *name == user)
        .map(|(name, _, password)| (name.to_string(), password.to_string()))
}

/// `deploy/nats/nats.conf` as the test runs it: monitoring off, JetStream in the test's directory
/// (or, for a cluster, in the directory each server is given).
pub(crate) fn secured_nats_config(dir: &std::path::Path, cluster: bool) -> std::path::PathBuf {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nats/nats.conf");
    let text = std::fs::read_to_string(&shipped).expect("deploy/nats/nats.conf");
    let store_dir = if cluster { String::new() } else { format!("store_dir: {}", dir.join("js").display()) };
    let text = text.replace("http_port: 8222", "").replace("store_dir: /data/jetstream", &store_dir);
    let path = dir.join("nats.conf");
    std::fs::write(&path, text).expect("write nats.conf");
    path
}

/// The environment variable that makes the test binary run a service instead of tests.
pub const CHILD_SERVICE: &str = "CLAIMFLOW_E2E_CHILD_SERVICE";

/// Keys the stack's auth-services share (a replica in another process gets them too).
#[derive(Clone)]
pub(crate) struct StackKeys {
    pub(crate) secrets: [u8; 32],
    pub(crate) secure_fetch: [u8; 32],
    pub(crate) session: [u8; 32],
}

/// An auth-service replica in the test process.
pub struct Replica {
    pub url: String,
    pub stop: CancellationToken,
    pub handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A service in a child process.
pub struct ServiceProcess {
    pub url: String,
    pub(crate) child: std::process::Child,
}

impl ServiceProcess {
    /// SIGKILL: no drain, no flush, nothing the process would do on its way out.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Stack {
    pub issuer: String,
    /// Health and metrics of the signer and the worker, when [`StackOptions::health`].
    pub signer_health: Option<String>,
    pub worker_health: Option<String>,
    pub admin: AdminCredentials,
    pub http: reqwest::Client,
    pub nats: Option<NatsServer>,
    /// The other servers of the cluster, when [`StackOptions::nats_cluster`].
    pub nats_peers: Vec<Option<NatsServer>>,
    /// What the services get as `NATS_URL`: every server of the stack.
    pub nats_url: String,
    pub database_url: String,
    pub prefix: String,
    /// The credentials the harness itself uses on a secured broker (auth-service's).
    pub(crate) nats_credentials: Option<(String, String)>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) services: tokio::task::JoinSet<anyhow::Result<()>>,
    /// `(server URL, database)` to drop when the stack goes.
    pub(crate) postgres: Option<(String, String)>,
    pub(crate) worker_config: workflow_worker::Config,
    pub(crate) signer_config: signer::Config,
    pub(crate) auth_config: auth_service::Config,
    pub(crate) keys: StackKeys,
    pub(crate) _dir: tempfile::TempDir,
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(StackOptions::default()).await
    }

    pub async fn start_with(options: StackOptions) -> Stack {
        spans();
        let dir = tempfile::tempdir().expect("temp dir");
        let nats_store = dir.path().join("nats");
        std::fs::create_dir_all(&nats_store).expect("nats store dir");
        let environment: Vec<(&str, &str)> =
            NATS_USERS.iter().map(|(_, variable, password)| (*variable, *password)).collect();
        let (nats, nats_peers) = if options.nats_cluster {
            let config = options.secured_nats.then(|| secured_nats_config(dir.path(), true));
            let mut servers = NatsServer::start_cluster(&nats_store, 3, config.as_deref(), &environment)
                .await
                .expect("a nats-server cluster starts (is nats-server installed?)");
            (servers.remove(0), servers)
        } else if options.secured_nats {
            let server = NatsServer::start_with_config(&secured_nats_config(dir.path(), false), &environment).await;
            (server.expect("nats-server starts (is it installed?)"), Vec::new())
        } else {
            (NatsServer::start(&nats_store).await.expect("nats-server starts (is it installed?)"), Vec::new())
        };
        let nats_url = std::iter::once(&nats).chain(&nats_peers).map(NatsServer::url).collect::<Vec<_>>().join(",");
        let (database_url, postgres) = test_database(dir.path()).await;
        // The shipped NATS permissions are written for the default prefix.
        let prefix = if options.secured_nats {
            "claimflow.".to_owned()
        } else {
            normalise_prefix(&format!("t{}", hex::encode(rand::random::<[u8; 4]>()))).expect("prefix")
        };
        let credentials = |user: &str| if options.secured_nats { nats_credentials(user) } else { None };
        let health_addr = || {
            options.health.then(|| {
                let port = claimflow_platform::nats_server::free_port().expect("a free port");
                std::net::SocketAddr::from(([127, 0, 0, 1], port))
            })
        };
        let (signer_health, worker_health) = (health_addr(), health_addr());
        let common = CommonConfig {
            data_dir: dir.path().to_owned(),
            database_url: database_url.clone(),
            nats_url: nats_url.clone(),
            nats_credentials: None,
            subject_prefix: prefix.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let http_addr = listener.local_addr().expect("local addr");
        let issuer = format!("http://{http_addr}");
        let admin = AdminCredentials {
            client_id: hex::encode(rand::random::<[u8; 16]>()),
            client_secret: hex::encode(rand::random::<[u8; 32]>()),
        };
        let keys = StackKeys { secrets: rand::random(), secure_fetch: rand::random(), session: rand::random() };
        let auth_config = auth_service::Config {
            common: CommonConfig { nats_credentials: credentials("auth-service"), ..common.clone() },
            http_addr,
            issuer: issuer.clone(),
            admin: admin.clone(),
            m2m_token_lifetime: Duration::from_secs(3600),
            workflow_timeout: options.workflow_timeout,
            signer_timeout: Duration::from_secs(5),
            secrets: auth_service::secret_box::SecretBox::from_key(&keys.secrets),
            secure_fetch_key: keys.secure_fetch,
            session_key: keys.session,
            user_token_lifetime: Duration::from_secs(3600),
            refresh_token_lifetime: options.refresh_token_lifetime,
            session_lifetime: Duration::from_secs(3600),
            login_throttle: auth_service::config::LoginThrottle {
                max_per_account: 5,
                max_per_ip: 20,
                window: Duration::from_secs(900),
            },
            http_limits: options.http_limits,
            smtp: options.smtp_url.as_deref().map(|url| {
                auth_service::mail::Smtp::new(url, "claimflow <no-reply@claimflow.test>").expect("an SMTP URL")
            }),
            usernames: options.usernames,
        };
        let signer_config = signer::Config {
            common: CommonConfig { nats_credentials: credentials("signer"), ..common.clone() },
            key_dir: dir.path().join("signing-keys"),
            signing_alg: options.signing_alg,
            secrets: auth_service::secret_box::SecretBox::from_key(&keys.secrets),
            rotation: signer::Rotation { lead: options.key_publish_lead, every: options.key_rotation },
            threads: 2,
            concurrency: 64,
            max_patch_bytes: 16 * 1024,
            health_addr: signer_health,
        };
        let worker_config = workflow_worker::Config {
            common: CommonConfig { nats_credentials: credentials("workflow-worker"), ..common },
            threads: 2,
            heap_bytes: 64 * 1024 * 1024,
            max_claims_bytes: 16 * 1024,
            fetch_allow: options.fetch_allow.clone(),
            health_addr: worker_health,
            worker_id: "worker-0".to_owned(),
        };
        let shutdown = CancellationToken::new();
        let mut services = tokio::task::JoinSet::new();
        // auth-service first: it owns the schema the signer reads.
        let token = shutdown.clone();
        let first_auth_service = auth_config.clone();
        services.spawn(async move { Ok(auth_service::run_with_listener(first_auth_service, listener, token).await?) });
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
        // NOTE: alive means migrated (it listens only then); ready needs a signer as well.
        wait_for(&http, &format!("{issuer}/healthz")).await;
        let token = shutdown.clone();
        let first_signer = signer_config.clone();
        services.spawn(async move { Ok(signer::run(first_signer, token).await?) });
        wait_for(&http, &format!("{issuer}/readyz")).await;
        if options.worker {
            let token = shutdown.clone();
            let engine = engine();
            let first_worker = worker_config.clone();
            services.spawn(async move { Ok(workflow_worker::run(first_worker, engine, token).await?) });
        }
        let stack = Stack {
            signer_health: signer_health.map(|addr| format!("http://{addr}")),
            worker_health: worker_health.map(|addr| format!("http://{addr}")),
            issuer,
            admin,
            http,
            nats: Some(nats),
            nats_peers: nats_peers.into_iter().map(Some).collect(),
            nats_url,
            database_url,
            prefix,
            nats_credentials: credentials("auth-service"),
            shutdown,
            services,
            postgres,
            worker_config,
            signer_config,
            auth_config,
            keys,
            _dir: dir,
        };
        // Ready when auth-service is (a signer has answered), and the worker takes requests.
        if options.worker {
            stack.wait_for_a_worker().await;
            if let Some(health) = &stack.worker_health {
                wait_for(&stack.http, &format!("{health}/readyz")).await;
            }
        }
        stack
    }

    /// Waits until a workflow-worker answers on the stack's broker (it has subscribed).
    pub async fn wait_for_a_worker(&self) {
        use claimflow_contracts::workflow::{ModuleInspection, ModuleInspectionRequest};
        let client = claimflow_platform::nats::connect(&self.nats_url, "auth-service", self.nats_credentials.as_ref())
            .await
            .expect("the harness connects to NATS");
        let probe = ModuleInspectionRequest {
            source_path: "probe.js".to_owned(),
            code: "export default function () {}".to_owned(),
            source_map: None,
            graph: Default::default(),
        };
        for _ in 0..500 {
            let answer = claimflow_platform::nats::request(&client, &self.prefix, &probe, Duration::from_secs(2)).await;
            if matches!(answer, Ok(ModuleInspection::Evaluated(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no workflow-worker answered within 10 s");
    }

    /// The configuration the stack's worker runs with, to start another one differently.
    pub fn worker_config(&self) -> workflow_worker::Config {
        self.worker_config.clone()
    }

    /// The configuration the stack's auth-service runs with.
    pub fn auth_config(&self) -> auth_service::Config {
        self.auth_config.clone()
    }

    /// The configuration the stack's signer runs with.
    pub fn signer_config(&self) -> signer::Config {
        self.signer_config.clone()
    }

    /// Starts one more signer in this process, with its own key directory and NATS connection
    /// (same database and secrets key): a replica on another machine. Cancel the token to stop it.
    pub fn add_signer(
        &self,
        key_dir: &std::path::Path,
    ) -> (CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
        let config = signer::Config { key_dir: key_dir.to_owned(), health_addr: None, ..self.signer_config.clone() };
        let stop = CancellationToken::new();
        let token = stop.clone();
        let handle = tokio::spawn(async move { Ok(signer::run(config, token).await?) });
        (stop, handle)
    }

    /// Starts one more workflow-worker (its own NATS connection, same queue group): scaling out.
    /// Cancel the token to stop it; the handle ends when it has drained.
    pub fn add_worker(&self, worker_id: &str) -> (CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
        let config = workflow_worker::Config {
            worker_id: worker_id.to_owned(),
            health_addr: None,
            ..self.worker_config.clone()
        };
        let stop = CancellationToken::new();
        let token = stop.clone();
        let handle = tokio::spawn(async move { Ok(workflow_worker::run(config, engine(), token).await?) });
        (stop, handle)
    }

    /// One more auth-service replica in this process, on its own port, sharing the stack's
    /// database, broker and issuer (replicas behind one load balancer). Cancel `stop` to end it.
    pub async fn add_auth_service(&self) -> Replica {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let config = auth_service::Config { http_addr: listener.local_addr().unwrap(), ..self.auth_config.clone() };
        let stop = CancellationToken::new();
        let token = stop.clone();
        let handle = tokio::spawn(async move { Ok(auth_service::run_with_listener(config, listener, token).await?) });
        wait_for(&self.http, &format!("{url}/readyz")).await;
        Replica { url, stop, handle }
    }

    /// An auth-service in a process of its own, so that a test can kill it with SIGKILL: this
    /// test binary run again, as the `child::auth_service_process` entry, configured from the
    /// environment as the `auth-service` binary is.
    pub async fn spawn_auth_service(&self) -> ServiceProcess {
        use base64::Engine;
        let port = claimflow_platform::nats_server::free_port().expect("a free port");
        let url = format!("http://127.0.0.1:{port}");
        let base64 = |key: &[u8; 32]| base64::engine::general_purpose::STANDARD.encode(key);
        let child = std::process::Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", "child::auth_service_process", "--ignored", "--nocapture", "--test-threads", "1"])
            .env(CHILD_SERVICE, "auth-service")
            .env("CLAIMFLOW_DATA_DIR", self._dir.path().join("child-auth-service"))
            .env("DATABASE_URL", &self.database_url)
            .env("NATS_URL", &self.nats_url)
            .env("CLAIMFLOW_SUBJECT_PREFIX", &self.prefix)
            .env("CLAIMFLOW_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("CLAIMFLOW_ISSUER", &self.issuer)
            .env("CLAIMFLOW_ADMIN_CLIENT_ID", &self.admin.client_id)
            .env("CLAIMFLOW_ADMIN_CLIENT_SECRET", &self.admin.client_secret)
            .env("CLAIMFLOW_SECRETS_KEY", base64(&self.keys.secrets))
            .env("CLAIMFLOW_SECURE_FETCH_KEY", base64(&self.keys.secure_fetch))
            .env("CLAIMFLOW_SESSION_KEY", base64(&self.keys.session))
            .env("CLAIMFLOW_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the test binary starts again as a child process");
        let process = ServiceProcess { url, child };
        wait_for(&self.http, &format!("{}/readyz", process.url)).await;
        process
    }

    /// A workflow-worker in a process of its own, so that a test can kill it with SIGKILL in the
    /// middle of a run: this test binary run again as the `child::worker_process` entry,
    /// configured from the environment as the `workflow-worker` binary is. `url` is its health
    /// server; it has said it is ready when this returns.
    pub async fn spawn_worker(&self, worker_id: &str) -> ServiceProcess {
        let port = claimflow_platform::nats_server::free_port().expect("a free port");
        let url = format!("http://127.0.0.1:{port}");
        let mut command = std::process::Command::new(std::env::current_exe().expect("the test binary"));
        command
            .args(["--exact", "child::worker_process", "--ignored", "--nocapture", "--test-threads", "1"])
            .env(CHILD_SERVICE, "workflow-worker")
            .env("CLAIMFLOW_DATA_DIR", self._dir.path().join(format!("child-{worker_id}")))
            .env("DATABASE_URL", &self.database_url)
            .env("NATS_URL", &self.nats_url)
            .env("CLAIMFLOW_SUBJECT_PREFIX", &self.prefix)
            .env("CLAIMFLOW_WORKER_ID", worker_id)
            .env("CLAIMFLOW_WORKER_THREADS", "2")
            .env("CLAIMFLOW_HEALTH_ADDR", format!("127.0.0.1:{port}"))
            .env("CLAIMFLOW_LOG", "warn")
            .stdout(std::process::Stdio::null());
        if let Some((user, password)) = &self.worker_config.common.nats_credentials {
            command.env("NATS_USER", user).env("NATS_PASSWORD", password);
        }
        let child = command.spawn().expect("the test binary starts again as a child process");
        let process = ServiceProcess { url, child };
        wait_for(&self.http, &format!("{}/readyz", process.url)).await;
        process
    }

    /// Stops every service and waits for them (drains NATS).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        while let Some(joined) = self.services.join_next().await {
            joined??;
        }
        Ok(())
    }

    /// The environment's `kinde.secureFetch` key: what a receiving API decrypts bodies with.
    pub fn secure_fetch_key(&self) -> [u8; 32] {
        self.keys.secure_fetch
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some((server_url, name)) = self.postgres.take() {
            // NOTE: Drop cannot await; a short-lived thread with its own runtime drops the test
            // database (FORCE ends the connections of services still shutting down).
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                runtime.block_on(async {
                    use sea_orm::ConnectionTrait;
                    let admin = sea_orm::Database::connect(&server_url).await.ok()?;
                    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()?;
                    admin.close().await.ok()
                })
            })
            .join();
        }
    }
}

pub(crate) async fn wait_for(http: &reqwest::Client, url: &str) {
    for _ in 0..400 {
        if let Ok(response) = http.get(url).send().await {
            if response.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{url} did not become ready within 10 s");
}

/// A SQLite file in the test's directory, or a fresh database on the PostgreSQL server named by
/// `DATABASE_URL`.
pub(crate) async fn test_database(dir: &std::path::Path) -> (String, Option<(String, String)>) {
    match claimflow_platform::config::var("DATABASE_URL") {
        Some(url) if url.starts_with("postgres") => {
            let (database_url, name) = fresh_postgres_database(&url).await.expect("a fresh PostgreSQL database");
            (database_url, Some((url, name)))
        }
        _ => (claimflow_storage::sqlite_url(&dir.join("claimflow.sqlite")), None),
    }
}

pub(crate) async fn fresh_postgres_database(server_url: &str) -> anyhow::Result<(String, String)> {
    use sea_orm::{ConnectionTrait, Database};
    let name = format!("claimflow_test_{}", hex::encode(rand::random::<[u8; 6]>()));
    let admin = Database::connect(server_url).await.with_context(|| format!("DATABASE_URL {server_url}"))?;
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
    admin.close().await?;
    let mut url = url::Url::parse(server_url)?;
    url.set_path(&format!("/{name}"));
    Ok((url.to_string(), name))
}

/// A signing request as an attacker would send it (a token for `acme`, `sub: attacker`):
/// what the NATS permissions must keep a worker from sending.
pub fn forged_issue_request() -> claimflow_contracts::signer::IssueRequest {
    claimflow_contracts::signer::IssueRequest {
        event_id: "forged".into(),
        access_token_kind: claimflow_contracts::TokenKind::M2m,
        base_claims: claimflow_contracts::workflow::BaseClaims {
            access: json!({ "aud": ["acme"], "sub": "attacker" }).as_object().unwrap().clone(),
            id: None,
        },
        workflow: None,
        patches: vec![],
    }
}
