//! Talking to a stack as its users do: token requests, the management API, deploys, verifying
//! tokens through the JWKS, and the run records.

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::*;

impl Stack {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// POSTs a token request form.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(self.url("/oauth2/token")).form(form).send().await.expect("token endpoint answers")
    }

    /// A client_credentials token, or the error body.
    pub async fn m2m_token(&self, client_id: &str, client_secret: &str, audience: &str) -> Result<Value, (u16, Value)> {
        let response = self
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret),
                ("audience", audience),
            ])
            .await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("token endpoint answers JSON");
        if status == 200 {
            Ok(body)
        } else {
            Err((status, body))
        }
    }

    pub async fn management_token(&self) -> String {
        let audience = format!("{}/api", self.issuer);
        let body = self
            .m2m_token(&self.admin.client_id, &self.admin.client_secret, &audience)
            .await
            .expect("the admin gets a management token");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    /// Calls the management API as the admin; returns status and JSON body.
    pub async fn management(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = self.management_token().await;
        let mut request = self.http.request(method, self.url(&format!("/api/v1/{path}"))).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("management API answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates an API and an M2M application authorized for it: `(client_id, client_secret)`.
    pub async fn m2m_client_for(&self, audience: &str) -> (String, String) {
        let (status, api) = self
            .management(reqwest::Method::POST, "apis", Some(json!({ "name": audience, "audience": audience })))
            .await;
        assert_eq!(status, 200, "create API: {api}");
        let api_id = api["api"]["id"].as_str().expect("api id").to_owned();
        self.m2m_application_authorized_for("backend", &api_id).await
    }

    /// Creates an M2M application named `name`, authorized for the API `api_id`:
    /// `(client_id, client_secret)`.
    pub async fn m2m_application_authorized_for(&self, name: &str, api_id: &str) -> (String, String) {
        let (status, app) =
            self.management(reqwest::Method::POST, "applications", Some(json!({ "name": name, "type": "m2m" }))).await;
        assert_eq!(status, 200, "create application: {app}");
        let client_id = app["application"]["client_id"].as_str().expect("client_id").to_owned();
        let client_secret = app["application"]["client_secret"].as_str().expect("client_secret").to_owned();
        let (status, body) = self
            .management(
                reqwest::Method::PATCH,
                &format!("apis/{api_id}/applications"),
                Some(json!({ "applications": [{ "id": client_id }] })),
            )
            .await;
        assert_eq!(status, 200, "authorize application: {body}");
        (client_id, client_secret)
    }

    /// Deploys workflow files `(path, content)`; returns status and body.
    pub async fn deploy(&self, files: &[(&str, &str)]) -> (u16, Value) {
        let files: Vec<Value> =
            files.iter().map(|(path, content)| json!({ "path": path, "content": content })).collect();
        self.management(reqwest::Method::POST, "workflows/deployments", Some(json!({ "files": files }))).await
    }

    /// Verifies a JWT against the published JWKS like any relying party would.
    pub async fn verify(&self, token: &str, audience: &str) -> anyhow::Result<Value> {
        let jwks: jsonwebtoken::jwk::JwkSet =
            self.http.get(self.url("/.well-known/jwks.json")).send().await?.json().await?;
        let header = jsonwebtoken::decode_header(token)?;
        if header.alg != jsonwebtoken::Algorithm::RS256 {
            bail!("token is signed with {:?}, not RS256", header.alg);
        }
        let kid = header.kid.context("token has no kid")?;
        let jwk = jwks.find(&kid).with_context(|| format!("kid {kid} is not in the JWKS"))?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk)?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[self.issuer.as_str()]);
        Ok(jsonwebtoken::decode::<Value>(token, &key, &validation)?.claims)
    }

    /// The management API's own API id.
    pub async fn management_api_id(&self) -> String {
        let (_, apis) = self.management(reqwest::Method::GET, "apis", None).await;
        let audience = format!("{}/api", self.issuer);
        apis["apis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|api| api["audience"] == audience.as_str())
            .expect("management API")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An M2M application authorized for the management API with the given scopes only.
    pub async fn management_client_with_scopes(&self, scopes: &[&str]) -> (String, String) {
        let api_id = self.management_api_id().await;
        let (client_id, client_secret) = self.m2m_application_authorized_for("workflow reader", &api_id).await;
        let (_, listed) = self.management(reqwest::Method::GET, &format!("apis/{api_id}/scopes"), None).await;
        for scope in scopes {
            let scope_id =
                listed["scopes"].as_array().unwrap().iter().find(|s| s["key"] == *scope).expect("scope exists")["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            let (status, body) = self
                .management(
                    reqwest::Method::POST,
                    &format!("apis/{api_id}/applications/{client_id}/scopes/{scope_id}"),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
        (client_id, client_secret)
    }

    /// Waits until every record published so far (token audits, workflow runs) is in the
    /// database: the records stream's writer has nothing left to deliver or to acknowledge.
    pub async fn records_written(&self) {
        use async_nats::jetstream;
        let mut options = async_nats::ConnectOptions::new();
        if let Some((user, password)) = &self.nats_credentials {
            // NOTE: on a secured broker the harness is auth-service, and may only read replies
            // under auth-service's inbox prefix.
            options =
                options.user_and_password(user.clone(), password.clone()).custom_inbox_prefix("_INBOX_auth-service");
        }
        let servers = claimflow_platform::nats::server_addrs(&self.nats_url).expect("the stack's NATS URLs");
        let client = options.connect(servers).await.expect("the harness connects to NATS");
        let stream = claimflow_contracts::records::stream_name(&self.prefix);
        let jetstream = jetstream::new(client);
        // NOTE: on a cluster that lost a server, the consumer may be electing a new leader: its
        // information is unavailable for a few seconds.
        let mut last_error = None;
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            let consumer: Result<jetstream::consumer::PullConsumer, _> =
                jetstream.get_consumer_from_stream(claimflow_contracts::records::WRITER_CONSUMER, &stream).await;
            match consumer {
                Ok(consumer)
                    if consumer.cached_info().num_pending == 0 && consumer.cached_info().num_ack_pending == 0 =>
                {
                    return
                }
                Ok(_) => {}
                Err(err) => last_error = Some(err.to_string()),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the records writer did not catch up within 20 s (last error: {last_error:?})");
    }

    /// The recorded workflow runs, newest first, once every record so far is written.
    pub async fn runs(&self) -> Vec<Value> {
        self.records_written().await;
        let (status, body) = self.management(reqwest::Method::GET, "workflows/runs?page_size=500", None).await;
        assert_eq!(status, 200, "list runs: {body}");
        body["runs"].as_array().cloned().unwrap_or_default()
    }
}
