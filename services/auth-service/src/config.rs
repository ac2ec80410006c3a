//! auth-service configuration from the environment.

use std::{net::SocketAddr, path::Path, time::Duration};

use claimflow_platform::config::{self, CommonConfig, ConfigError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `CLAIMFLOW_HTTP_ADDR` (default `127.0.0.1:8080`).
    pub http_addr: SocketAddr,
    /// `CLAIMFLOW_ISSUER` (default `http://<CLAIMFLOW_HTTP_ADDR>`), without a trailing slash.
    pub issuer: String,
    pub admin: AdminCredentials,
    /// `CLAIMFLOW_M2M_TOKEN_LIFETIME_SECS` (default 86400, as Kinde).
    pub m2m_token_lifetime: Duration,
    /// `CLAIMFLOW_WORKFLOW_TIMEOUT_MS` (default 5000): a run's wall-time limit.
    pub workflow_timeout: Duration,
    /// `CLAIMFLOW_SIGNER_TIMEOUT_MS` (default 2000).
    pub signer_timeout: Duration,
    /// Encrypts secret environment variables at rest.
    pub secrets: crate::secret_box::SecretBox,
    /// The environment's key for `kinde.secureFetch` bodies (AES-256-GCM):
    /// `CLAIMFLOW_SECURE_FETCH_KEY`, or generated into `<data dir>/secure-fetch.key`. The APIs a
    /// workflow calls with secureFetch decrypt with the same key.
    pub secure_fetch_key: [u8; 32],
    /// Signs the sign-in form's CSRF tokens: `CLAIMFLOW_SESSION_KEY`, or generated into
    /// `<data dir>/session.key`.
    pub session_key: [u8; 32],
    /// `CLAIMFLOW_USER_TOKEN_LIFETIME_SECS` (default 86400, as Kinde): user access and ID tokens.
    pub user_token_lifetime: Duration,
    /// `CLAIMFLOW_REFRESH_TOKEN_LIFETIME_SECS` (default 2592000, 30 days).
    pub refresh_token_lifetime: Duration,
    /// `CLAIMFLOW_SESSION_LIFETIME_SECS` (default 2592000): how long a browser stays signed in.
    pub session_lifetime: Duration,
    /// Failed sign-ins allowed per account (`CLAIMFLOW_LOGIN_MAX_FAILURES`, default 5) and per
    /// client address (`CLAIMFLOW_LOGIN_MAX_FAILURES_PER_IP`, default 20) within
    /// `CLAIMFLOW_LOGIN_LOCKOUT_SECS` (default 900) before sign-in is refused for the rest of it.
    pub login_throttle: LoginThrottle,
    pub http_limits: crate::HttpLimits,
    /// `CLAIMFLOW_SMTP_URL` and `CLAIMFLOW_SMTP_FROM` (default `claimflow <no-reply@<issuer
    /// host>>`): the codes of email verification and password resets. None: no email is sent.
    pub smtp: Option<crate::mail::Smtp>,
    /// `CLAIMFLOW_USERNAMES` (default `off`): whether the sign-up page asks for a username.
    /// Users with one (from sign-up or the management API) sign in with it or their email.
    pub usernames: Usernames,
}

/// Whether sign-up asks for a username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Usernames {
    #[default]
    Off,
    Optional,
    Required,
}

impl Usernames {
    /// Whether the sign-up page has a username field.
    pub fn asked(self) -> bool {
        self != Usernames::Off
    }
}

impl std::str::FromStr for Usernames {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "off" => Ok(Usernames::Off),
            "optional" => Ok(Usernames::Optional),
            "required" => Ok(Usernames::Required),
            _ => Err("use off, optional or required"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    pub max_per_account: u64,
    pub max_per_ip: u64,
    pub window: Duration,
}

/// The admin application's credentials. From `CLAIMFLOW_ADMIN_CLIENT_ID` /
/// `CLAIMFLOW_ADMIN_CLIENT_SECRET` when set; otherwise generated once and kept in
/// `<data dir>/admin-credentials.json` (mode 0600).
#[derive(Clone, Serialize, Deserialize)]
pub struct AdminCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let common = CommonConfig::from_env()?;
        let http_addr: SocketAddr = config::parse_or("CLAIMFLOW_HTTP_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
        let issuer = match config::var("CLAIMFLOW_ISSUER") {
            Some(issuer) => {
                validate_issuer(&issuer).map_err(|message| ConfigError::new("CLAIMFLOW_ISSUER", message))?
            }
            None => format!("http://{http_addr}"),
        };
        common.ensure_data_dir()?;
        let admin = AdminCredentials::from_env_or_data_dir(&common.data_dir)?;
        let smtp = match config::var("CLAIMFLOW_SMTP_URL") {
            Some(url) => {
                let host = url::Url::parse(&issuer).ok().and_then(|u| u.host_str().map(str::to_owned));
                let from = config::var("CLAIMFLOW_SMTP_FROM")
                    .unwrap_or_else(|| format!("claimflow <no-reply@{}>", host.as_deref().unwrap_or("localhost")));
                let smtp = crate::mail::Smtp::new(&url, &from);
                let variable = if from.parse::<lettre::message::Mailbox>().is_err() {
                    "CLAIMFLOW_SMTP_FROM"
                } else {
                    "CLAIMFLOW_SMTP_URL"
                };
                Some(smtp.map_err(|message| ConfigError::new(variable, message))?)
            }
            None => None,
        };
        Ok(Config {
            smtp,
            usernames: config::parse_or("CLAIMFLOW_USERNAMES", Usernames::Off)?,
            http_addr,
            issuer,
            admin,
            m2m_token_lifetime: Duration::from_secs(config::parse_or("CLAIMFLOW_M2M_TOKEN_LIFETIME_SECS", 86_400)?),
            workflow_timeout: Duration::from_millis(config::parse_or("CLAIMFLOW_WORKFLOW_TIMEOUT_MS", 5_000)?),
            signer_timeout: Duration::from_millis(config::parse_or("CLAIMFLOW_SIGNER_TIMEOUT_MS", 2_000)?),
            secrets: crate::secret_box::SecretBox::from_env_or_data_dir(&common.data_dir)?,
            secure_fetch_key: crate::secret_box::load_or_generate_key(
                "CLAIMFLOW_SECURE_FETCH_KEY",
                &common.data_dir.join("secure-fetch.key"),
            )?,
            session_key: crate::secret_box::load_or_generate_key(
                "CLAIMFLOW_SESSION_KEY",
                &common.data_dir.join("session.key"),
            )?,
            user_token_lifetime: Duration::from_secs(config::parse_or("CLAIMFLOW_USER_TOKEN_LIFETIME_SECS", 86_400)?),
            refresh_token_lifetime: Duration::from_secs(config::parse_or(
                "CLAIMFLOW_REFRESH_TOKEN_LIFETIME_SECS",
                2_592_000,
            )?),
            session_lifetime: Duration::from_secs(config::parse_or("CLAIMFLOW_SESSION_LIFETIME_SECS", 2_592_000)?),
            login_throttle: LoginThrottle {
                max_per_account: config::parse_or("CLAIMFLOW_LOGIN_MAX_FAILURES", 5)?,
                max_per_ip: config::parse_or("CLAIMFLOW_LOGIN_MAX_FAILURES_PER_IP", 20)?,
                window: Duration::from_secs(config::parse_or("CLAIMFLOW_LOGIN_LOCKOUT_SECS", 900)?),
            },
            http_limits: crate::HttpLimits {
                header_timeout: Duration::from_secs(config::parse_or("CLAIMFLOW_HTTP_HEADER_TIMEOUT_SECS", 10)?),
                request_timeout: Duration::from_secs(config::parse_or("CLAIMFLOW_HTTP_REQUEST_TIMEOUT_SECS", 30)?),
                max_connections: config::parse_or("CLAIMFLOW_HTTP_MAX_CONNECTIONS", 4096)?,
            },
            common,
        })
    }

    /// The management API's audience: `<issuer>/api`.
    pub fn management_audience(&self) -> String {
        format!("{}/api", self.issuer)
    }
}

/// An issuer is an absolute http(s) URL; stored without a trailing slash.
pub fn validate_issuer(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw.trim()).map_err(|err| format!("{raw:?} is not a URL: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{raw:?} must be an http(s) URL without query or fragment"));
    }
    Ok(raw.trim().trim_end_matches('/').to_owned())
}

impl AdminCredentials {
    pub const FILE: &'static str = "admin-credentials.json";

    pub fn from_env_or_data_dir(data_dir: &Path) -> Result<AdminCredentials, ConfigError> {
        match (config::var("CLAIMFLOW_ADMIN_CLIENT_ID"), config::var("CLAIMFLOW_ADMIN_CLIENT_SECRET")) {
            (Some(client_id), Some(client_secret)) => {
                if client_secret.len() < 16 {
                    return Err(ConfigError::new("CLAIMFLOW_ADMIN_CLIENT_SECRET", "must be at least 16 characters"));
                }
                Ok(AdminCredentials { client_id, client_secret })
            }
            (Some(_), None) => {
                Err(ConfigError::new("CLAIMFLOW_ADMIN_CLIENT_SECRET", "must be set with CLAIMFLOW_ADMIN_CLIENT_ID"))
            }
            (None, Some(_)) => {
                Err(ConfigError::new("CLAIMFLOW_ADMIN_CLIENT_ID", "must be set with CLAIMFLOW_ADMIN_CLIENT_SECRET"))
            }
            (None, None) => Self::load_or_generate(&data_dir.join(Self::FILE)),
        }
    }

    fn load_or_generate(path: &Path) -> Result<AdminCredentials, ConfigError> {
        let error = |message: String| ConfigError::new("CLAIMFLOW_DATA_DIR", format!("{}: {message}", path.display()));
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|err| error(format!("not valid admin credentials: {err}")))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let credentials = AdminCredentials {
                    client_id: crate::secrets::new_client_id(),
                    client_secret: crate::secrets::new_client_secret(),
                };
                let json = serde_json::to_vec_pretty(&credentials).map_err(|err| error(err.to_string()))?;
                claimflow_platform::config::write_private_file(path, &json).map_err(|err| error(err.to_string()))?;
                Ok(credentials)
            }
            Err(err) => Err(error(err.to_string())),
        }
    }
}
