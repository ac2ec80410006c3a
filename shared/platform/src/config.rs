//! Configuration from environment variables, validated at start with errors that name the
//! variable at fault.

use std::{fmt::Display, str::FromStr};

#[derive(Debug, thiserror::Error)]
#[error("environment variable {variable}: {message}")]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(variable: &str, message: impl Into<String>) -> Self {
        Self { variable: variable.to_owned(), message: message.into() }
    }
}

/// The variable's value, or `None` when it is unset or empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// Parses the variable when set, else returns `default`.
pub fn parse_or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|err| ConfigError::new(name, format!("cannot parse {raw:?}: {err}"))),
    }
}

/// The NATS subject prefix (`CLAIMFLOW_SUBJECT_PREFIX`), normalised to end with `.` unless empty.
pub fn subject_prefix() -> Result<String, ConfigError> {
    let raw = var("CLAIMFLOW_SUBJECT_PREFIX").unwrap_or_else(|| "claimflow".to_owned());
    normalise_prefix(&raw).map_err(|message| ConfigError::new("CLAIMFLOW_SUBJECT_PREFIX", message))
}

/// `claimflow` → `claimflow.`; rejects characters NATS subjects cannot carry.
pub fn normalise_prefix(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed.chars().any(|c| c.is_whitespace() || c == '*' || c == '>') || trimmed.contains("..") {
        return Err(format!("{raw:?} is not a valid NATS subject prefix"));
    }
    Ok(format!("{trimmed}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_gets_a_trailing_dot_and_rejects_wildcards() {
        assert_eq!(normalise_prefix("claimflow").unwrap(), "claimflow.");
        assert_eq!(normalise_prefix("t1.").unwrap(), "t1.");
        assert_eq!(normalise_prefix("").unwrap(), "");
        assert!(normalise_prefix("a.*").is_err());
    }

    #[test]
    fn parse_error_names_the_variable() {
        std::env::set_var("CLAIMFLOW_TEST_PARSE_OR", "abc");
        let err = parse_or::<u64>("CLAIMFLOW_TEST_PARSE_OR", 1).unwrap_err();
        assert!(err.to_string().contains("CLAIMFLOW_TEST_PARSE_OR"), "{err}");
    }
}

/// Settings every service reads the same way.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// `CLAIMFLOW_DATA_DIR` (default `.claimflow`): signing keys, the SQLite file, generated
    /// admin credentials.
    pub data_dir: std::path::PathBuf,
    /// `DATABASE_URL`, or the SQLite file `claimflow.sqlite` in the data directory.
    pub database_url: String,
    /// `NATS_URL` (default `nats://127.0.0.1:4222`): one server, or a cluster's servers separated
    /// by commas (the client also learns the others from the first it reaches).
    pub nats_url: String,
    /// `NATS_USER` / `NATS_PASSWORD`: this service's NATS credentials, when the server wants them.
    pub nats_credentials: Option<(String, String)>,
    /// `CLAIMFLOW_SUBJECT_PREFIX` (default `claimflow.`).
    pub subject_prefix: String,
}

impl CommonConfig {
    pub fn from_env() -> Result<CommonConfig, ConfigError> {
        let data_dir: std::path::PathBuf = var("CLAIMFLOW_DATA_DIR").unwrap_or_else(|| ".claimflow".to_owned()).into();
        Ok(CommonConfig {
            database_url: var("DATABASE_URL").unwrap_or_else(|| default_database_url(&data_dir)),
            data_dir,
            nats_url: nats_urls()?,
            nats_credentials: match (var("NATS_USER"), var("NATS_PASSWORD")) {
                (Some(user), Some(password)) => Some((user, password)),
                (None, None) => None,
                (Some(_), None) => return Err(ConfigError::new("NATS_PASSWORD", "must be set with NATS_USER")),
                (None, Some(_)) => return Err(ConfigError::new("NATS_USER", "must be set with NATS_PASSWORD")),
            },
            subject_prefix: subject_prefix()?,
        })
    }

    /// Creates the data directory, naming the variable when that fails.
    pub fn ensure_data_dir(&self) -> Result<(), ConfigError> {
        std::fs::create_dir_all(&self.data_dir).map_err(|err| {
            ConfigError::new("CLAIMFLOW_DATA_DIR", format!("cannot create {}: {err}", self.data_dir.display()))
        })
    }
}

/// `NATS_URL`, each of its comma-separated servers checked.
fn nats_urls() -> Result<String, ConfigError> {
    let urls = var("NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    crate::nats::server_addrs(&urls).map_err(|message| ConfigError::new("NATS_URL", message))?;
    Ok(urls)
}

/// The embedded default: a SQLite file in the data directory.
pub fn default_database_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("claimflow.sqlite").display())
}

/// Writes a new file readable only by its owner (keys, credentials). Refuses to overwrite.
pub fn write_private_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents)
}

/// `CLAIMFLOW_HEALTH_ADDR`: where a service without an HTTP API serves `/healthz`, `/readyz` and
/// `/metrics`; `off` disables it.
pub fn health_addr(default: std::net::SocketAddr) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    match var("CLAIMFLOW_HEALTH_ADDR").as_deref() {
        Some("off") => Ok(None),
        _ => parse_or("CLAIMFLOW_HEALTH_ADDR", default).map(Some),
    }
}
