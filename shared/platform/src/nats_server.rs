//! A `nats-server` child process for `claimflow dev` and tests: on a free loopback port, with
//! JetStream in its own directory, killed when dropped.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum NatsServerError {
    #[error(
        "nats-server was not found on PATH. Install it (Debian/Ubuntu: `apt-get install nats-server`; \
         macOS: `brew install nats-server`; others: the release binaries of nats-io/nats-server), \
         or set NATS_URL to a running NATS server"
    )]
    NotInstalled,
    #[error("cannot start {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot find a free port: {0}")]
    Port(#[source] std::io::Error),
    #[error("nats-server did not accept connections on port {port} within {waited:?}")]
    NotReady { port: u16, waited: Duration },
}

pub struct NatsServer {
    child: Child,
    port: u16,
    /// The HTTP monitoring port (`/connz`, `/jsz`) of a cluster's server.
    monitor_port: Option<u16>,
}

impl NatsServer {
    /// Finds `nats-server` on PATH (and the usual system directories).
    pub fn find_binary() -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/sbin", "/usr/local/bin", "/usr/bin"].map(PathBuf::from))
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    }

    /// Starts a server on a free port, storing JetStream data under `store_dir`.
    pub async fn start(store_dir: &Path) -> Result<NatsServer, NatsServerError> {
        let port = free_port().map_err(NatsServerError::Port)?;
        Self::start_on(store_dir, port).await
    }

    /// Starts a server on `port` (used to restart a broker on the same address).
    pub async fn start_on(store_dir: &Path, port: u16) -> Result<NatsServer, NatsServerError> {
        Self::spawn(Some(store_dir), port, None, &[], &[]).await
    }

    /// Starts a server with a configuration file (users, permissions, JetStream), on a free port.
    pub async fn start_with_config(config: &Path, environment: &[(&str, &str)]) -> Result<NatsServer, NatsServerError> {
        let port = free_port().map_err(NatsServerError::Port)?;
        Self::spawn(None, port, Some(config), environment, &[]).await
    }

    /// Starts a cluster of `size` servers with routes to one another, each with JetStream in a
    /// directory of its own under `store_dir`, and `config` (users, permissions) when given.
    /// JetStream takes a moment more to elect its leader: services wait for it.
    pub async fn start_cluster(
        store_dir: &Path,
        size: usize,
        config: Option<&Path>,
        environment: &[(&str, &str)],
    ) -> Result<Vec<NatsServer>, NatsServerError> {
        // NOTE: every port is held until all are chosen, so that no two of them are the same.
        let held = (0..size * 3).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<std::io::Result<Vec<_>>>();
        let held = held.map_err(NatsServerError::Port)?;
        let free = held.iter().map(|l| l.local_addr().map(|a| a.port())).collect::<std::io::Result<Vec<_>>>();
        let free = free.map_err(NatsServerError::Port)?;
        drop(held);
        let ports: Vec<(u16, u16, u16)> = free.chunks(3).map(|p| (p[0], p[1], p[2])).collect();
        let mut servers = Vec::with_capacity(size);
        for (i, &(port, route_port, monitor_port)) in ports.iter().enumerate() {
            let routes: Vec<String> = ports
                .iter()
                .filter(|(_, other, _)| *other != route_port)
                .map(|(_, other, _)| format!("nats://127.0.0.1:{other}"))
                .collect();
            let name = format!("nats-{}", i + 1);
            let cluster = [
                "--server_name".to_owned(),
                name.clone(),
                "--cluster_name".to_owned(),
                "claimflow".to_owned(),
                "--cluster".to_owned(),
                format!("nats://127.0.0.1:{route_port}"),
                "--routes".to_owned(),
                routes.join(","),
                "-m".to_owned(),
                monitor_port.to_string(),
            ];
            let mut server = Self::spawn(Some(&store_dir.join(&name)), port, config, environment, &cluster).await?;
            server.monitor_port = Some(monitor_port);
            servers.push(server);
        }
        Ok(servers)
    }

    async fn spawn(
        store_dir: Option<&Path>,
        port: u16,
        config: Option<&Path>,
        environment: &[(&str, &str)],
        extra: &[String],
    ) -> Result<NatsServer, NatsServerError> {
        let binary = Self::find_binary().ok_or(NatsServerError::NotInstalled)?;
        let mut command = Command::new(&binary);
        command.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        if let Some(config) = config {
            command.arg("-c").arg(config);
        }
        // NOTE: without a directory of its own, a configuration file brings its JetStream settings.
        if let Some(store_dir) = store_dir {
            command.args(["-js", "-sd"]).arg(store_dir);
        }
        let child = command
            .args(extra)
            .envs(environment.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| NatsServerError::Spawn { binary, source })?;
        let server = NatsServer { child, port, monitor_port: None };
        let started = Instant::now();
        let limit = Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if started.elapsed() > limit {
                return Err(NatsServerError::NotReady { port, waited: limit });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The monitoring endpoint of a cluster's server (`http://127.0.0.1:<port>`).
    pub fn monitor_url(&self) -> Option<String> {
        self.monitor_port.map(|port| format!("http://127.0.0.1:{port}"))
    }

    /// Resolves when the server exits on its own, with its status; the process is reaped.
    pub async fn exited(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait().await
    }

    /// Kills the server at once (tests use this to take the broker away).
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
