//! Talking to the management API: credentials from flags or the environment, a management token,
//! errors shown as the server words them.

use anyhow::{bail, Context};
use serde_json::Value;

#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// The issuer URL of a running claimflow.
    #[arg(long, env = "CLAIMFLOW_ISSUER", default_value = "http://127.0.0.1:8080")]
    pub issuer: String,
    /// An M2M application authorized for the management API (e.g. the admin client).
    #[arg(long, env = "CLAIMFLOW_CLIENT_ID")]
    pub client_id: Option<String>,
    #[arg(long, env = "CLAIMFLOW_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
}

pub struct ManagementClient {
    http: reqwest::Client,
    issuer: String,
    token: String,
}

impl ManagementClient {
    pub async fn connect(connection: &Connection) -> anyhow::Result<ManagementClient> {
        let issuer = connection.issuer.trim_end_matches('/').to_owned();
        let (Some(client_id), Some(client_secret)) = (&connection.client_id, &connection.client_secret) else {
            bail!(
                "management credentials are missing: pass --client-id and --client-secret, or set \
                 CLAIMFLOW_CLIENT_ID and CLAIMFLOW_CLIENT_SECRET (claimflow dev prints the admin credentials)"
            );
        };
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{issuer}/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret),
                ("audience", &format!("{issuer}/api")),
            ])
            .send()
            .await
            .with_context(|| format!("cannot reach claimflow at {issuer} (--issuer / CLAIMFLOW_ISSUER)"))?;
        let status = response.status();
        let body: Value = response.json().await.context("the token endpoint did not answer JSON")?;
        let Some(token) = body.get("access_token").and_then(Value::as_str) else {
            bail!(
                "cannot get a management token ({status}): {} {}",
                body.get("error").and_then(Value::as_str).unwrap_or("error"),
                body.get("error_description").and_then(Value::as_str).unwrap_or_default()
            );
        };
        Ok(ManagementClient { http, issuer, token: token.to_owned() })
    }

    /// POSTs JSON to `/api/v1/<path>`; a non-2xx answer becomes an error with the server's messages.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let mut request = self.http.request(method, format!("{}/api/v1/{path}", self.issuer)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.with_context(|| format!("cannot reach {}", self.issuer))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let messages: Vec<String> = body
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|error| error.get("message").and_then(Value::as_str).map(str::to_owned))
                .collect();
            bail!("{status}: {}", if messages.is_empty() { body.to_string() } else { messages.join("\n") });
        }
        Ok(body)
    }
}
