//! `kinde.fetch` on the wire: outbound HTTP for workflows, refused for loopback, private,
//! link-local and cloud-metadata addresses unless allowed, checked after DNS resolution and on
//! every redirect, with the connection pinned to the checked addresses (no DNS rebinding).
//!
//! Runs on its own small tokio runtime; the isolate thread blocks on the answer, which is what
//! lets `kinde.fetch` return synchronously as Kinde's runtime does.

use std::{
    net::{IpAddr, SocketAddr},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

/// What may be fetched; from `CLAIMFLOW_FETCH_ALLOW` (comma-separated host names, IPs and
/// CIDRs that are allowed even though private).
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    hosts: Vec<String>,
    networks: Vec<(IpAddr, u8)>,
}

impl AllowList {
    pub fn parse(spec: &str) -> Result<AllowList, String> {
        let mut allow = AllowList::default();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Some((ip, prefix)) = entry.split_once('/') {
                let ip: IpAddr = ip.parse().map_err(|_| format!("{entry:?} is not a CIDR"))?;
                let prefix: u8 = prefix.parse().map_err(|_| format!("{entry:?} is not a CIDR"))?;
                allow.networks.push((ip, prefix));
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                allow.networks.push((ip, if ip.is_ipv4() { 32 } else { 128 }));
            } else {
                allow.hosts.push(entry.to_ascii_lowercase());
            }
        }
        Ok(allow)
    }

    fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host))
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|(network, prefix)| in_network(ip, *network, *prefix))
    }
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix.min(32)) };
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix.min(128)) };
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// Why an address may not be fetched by default, if it may not.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if a == 169 && b == 254 {
                Some("link-local (cloud metadata)")
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) || (a == 198 && (b == 18 || b == 19)) {
                Some("private")
            } else if v4.is_unspecified() || a == 0 || v4.is_broadcast() || v4.is_multicast() || a >= 240 {
                Some("not a unicast address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_reason(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("not a unicast address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private (unique local, includes cloud metadata)")
            } else {
                None
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchRequest {
    pub url: String,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FetchResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Limits of `kinde.fetch` per run.
#[derive(Debug, Clone)]
pub struct FetchLimits {
    pub max_fetches: u32,
    pub timeout: Duration,
    pub max_response_bytes: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits { max_fetches: 20, timeout: Duration::from_secs(3), max_response_bytes: 1024 * 1024 }
    }
}

const MAX_REDIRECTS: usize = 5;

/// Outbound HTTP for workflows.
pub struct Network {
    allow: AllowList,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Network {
    fn drop(&mut self) {
        // NOTE: a worker drops its Network from async code when it stops; a runtime dropped
        // there would panic, so it is shut down in the background instead.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Network {
    pub fn new(allow: AllowList) -> std::io::Result<Network> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("workflow-fetch")
            .enable_all()
            .build()?;
        Ok(Network { allow, runtime: Some(runtime) })
    }

    /// Performs the request, following redirects, until `deadline`. `trusted_host` (the issuer)
    /// is allowed whatever it resolves to.
    pub fn fetch_blocking(
        &self,
        request: FetchRequest,
        trusted_host: Option<String>,
        limits: &FetchLimits,
        deadline: Instant,
    ) -> Result<FetchResponse, String> {
        let remaining = deadline.saturating_duration_since(Instant::now()).min(limits.timeout);
        if remaining.is_zero() {
            return Err("no time is left in the run for this request".to_owned());
        }
        let (answer, receive) = mpsc::channel();
        let allow = self.allow.clone();
        let max_bytes = limits.max_response_bytes;
        let Some(runtime) = &self.runtime else {
            return Err("the fetch runtime has stopped".to_owned());
        };
        runtime.spawn(async move {
            let result = tokio::time::timeout(remaining, fetch(request, allow, trusted_host, max_bytes)).await;
            let _ = answer.send(result.unwrap_or_else(|_| Err(format!("no answer within {remaining:?}"))));
        });
        receive
            .recv_timeout(remaining + Duration::from_millis(50))
            .unwrap_or_else(|_| Err(format!("no answer within {remaining:?}")))
    }
}

async fn fetch(
    request: FetchRequest,
    allow: AllowList,
    trusted_host: Option<String>,
    max_bytes: usize,
) -> Result<FetchResponse, String> {
    let mut url =
        reqwest::Url::parse(&request.url).map_err(|err| format!("{:?} is not a valid URL: {err}", request.url))?;
    let mut method = request.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let mut body = request.body;
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{} is not an http(s) URL", redact_url(&url)));
        }
        let host = url.host_str().ok_or_else(|| format!("{} has no host", redact_url(&url)))?.to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let addresses = checked_addresses(&host, port, &allow, trusted_host.as_deref()).await?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addresses)
            .build()
            .map_err(|err| format!("cannot build an HTTP client: {err}"))?;
        let method_value =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| format!("{method:?} is not an HTTP method"))?;
        let mut builder = client.request(method_value, url.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &body {
            builder = builder.body(body.clone());
        }
        let mut response = builder.send().await.map_err(|err| describe(&err))?;
        let status = response.status();
        if status.is_redirection() {
            if let Some(location) = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()) {
                url = url.join(location).map_err(|err| format!("bad redirect Location {location:?}: {err}"))?;
                if status == reqwest::StatusCode::SEE_OTHER || (status.as_u16() <= 302 && method == "POST") {
                    method = "GET".to_owned();
                    body = None;
                }
                continue;
            }
        }
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| value.to_str().ok().map(|value| (name.as_str().to_owned(), value.to_owned())))
            .collect();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| describe(&err))? {
            if bytes.len() + chunk.len() > max_bytes {
                return Err(format!("the response from {} is larger than {max_bytes} bytes", redact_url(&url)));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(FetchResponse {
            status: status.as_u16(),
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        });
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

/// Resolves `host` and refuses it when any address is forbidden and not allowed.
async fn checked_addresses(
    host: &str,
    port: u16,
    allow: &AllowList,
    trusted_host: Option<&str>,
) -> Result<Vec<SocketAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|err| format!("cannot resolve {host}: {err}"))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    let trusted = allow.allows_host(bare) || trusted_host.is_some_and(|t| t.eq_ignore_ascii_case(bare));
    if !trusted {
        for address in &addresses {
            if let Some(reason) = forbidden_reason(address.ip()) {
                if !allow.allows_ip(address.ip()) {
                    return Err(format!(
                        "{host} resolves to {}, a {reason} address; requests to it are refused unless CLAIMFLOW_FETCH_ALLOW lists it",
                        address.ip()
                    ));
                }
            }
        }
    }
    Ok(addresses)
}

/// The URL without its query string and credentials, for errors and traces.
pub fn redact_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

fn describe(err: &reqwest::Error) -> String {
    let mut message = if err.is_timeout() { "timed out".to_owned() } else { err.to_string() };
    if let Some(url) = err.url() {
        message = message.replace(url.as_str(), &redact_url(url));
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_metadata_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            assert!(forbidden_reason(ip.parse().unwrap()).is_some(), "{ip} must be forbidden");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(forbidden_reason(ip.parse().unwrap()).is_none(), "{ip} must be allowed");
        }
    }

    #[test]
    fn allow_list_takes_hosts_ips_and_cidrs() {
        let allow = AllowList::parse("internal.example, 127.0.0.1, 10.0.0.0/8").unwrap();
        assert!(allow.allows_host("INTERNAL.example"));
        assert!(allow.allows_ip("127.0.0.1".parse().unwrap()));
        assert!(allow.allows_ip("10.20.30.40".parse().unwrap()));
        assert!(!allow.allows_ip("11.0.0.1".parse().unwrap()));
        assert!(AllowList::parse("10.0.0.0/x").is_err());
    }

    #[test]
    fn redacted_urls_lose_query_and_credentials() {
        let url = reqwest::Url::parse("https://user:pw@api.example/v1?key=secret").unwrap();
        assert_eq!(redact_url(&url), "https://api.example/v1");
    }
}
