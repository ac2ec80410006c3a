//! `kinde.fetch` and `kinde.secureFetch`: synchronous HTTP under the run's network rules (see
//! [`crate::network`]): the thread waits for the answer, within the run's time.

use std::time::Instant;

use deno_core::v8;

use super::{json, string_arg, with_run, RunState, Thrown};
use crate::network::{FetchRequest, FetchResponse};

/// `fetch(requestJson)`: the response as JSON.
pub(super) fn fetch(scope: &mut v8::PinScope, args: v8::FunctionCallbackArguments, rv: v8::ReturnValue<v8::Value>) {
    let request = string_arg(scope, &args, 0).unwrap_or_default();
    with_run(scope, rv, |run| json(&send(run, parse_request(&request)?)?));
}

/// `issuerFetch(requestJson)`: what `@kinde/infrastructure`'s own helpers (`createKindeAPI`,
/// `getM2MToken`) fetch with when the workflow did not declare `kinde.fetch`, as Kinde provides
/// it to them: claimflow's own API (the issuer's host) and nothing else.
pub(super) fn issuer_fetch(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    rv: v8::ReturnValue<v8::Value>,
) {
    let request = string_arg(scope, &args, 0).unwrap_or_default();
    with_run(scope, rv, |run| {
        let request = parse_request(&request)?;
        let host = url::Url::parse(&request.url).ok().and_then(|url| url.host_str().map(str::to_owned));
        let own =
            host.as_deref().zip(run.trusted_host.as_deref()).is_some_and(|(host, own)| host.eq_ignore_ascii_case(own));
        if !own {
            return Err(Thrown::Generic(format!(
                "{} is not claimflow's own API, and the workflow did not declare kinde.fetch: add \"kinde.fetch\": {{}} to \
                 workflowSettings.bindings",
                host.unwrap_or_else(|| request.url.clone())
            )));
        }
        json(&send(run, request)?)
    });
}

/// `secureFetch(requestJson)`: a POST whose body is encrypted with the environment's key
/// (AES-256-GCM, sent as `base64(nonce || ciphertext)`), so only the receiving API can read it.
pub(super) fn secure_fetch(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    rv: v8::ReturnValue<v8::Value>,
) {
    let request = string_arg(scope, &args, 0).unwrap_or_default();
    with_run(scope, rv, |run| {
        use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
        use base64::Engine as _;
        let mut request = parse_request(&request)?;
        let key = run.secure_fetch_key.ok_or_else(|| {
            Thrown::Generic("kinde.secureFetch: no encryption key is configured for this environment".into())
        })?;
        let cipher = aes_gcm::Aes256Gcm::new(&key.into());
        let nonce = aes_gcm::Aes256Gcm::generate_nonce(&mut OsRng);
        let plaintext = request.body.take().unwrap_or_default();
        let ciphertext = cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| Thrown::Generic("kinde.secureFetch: encryption failed".into()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        request.body = Some(base64::engine::general_purpose::STANDARD.encode(sealed));
        request.method = Some("POST".to_owned());
        request.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        request.headers.push(("content-type".to_owned(), "text/plain".to_owned()));
        request.headers.push(("x-claimflow-encryption".to_owned(), "aes-256-gcm".to_owned()));
        json(&send(run, request)?)
    });
}

fn parse_request(json: &str) -> Result<FetchRequest, Thrown> {
    serde_json::from_str(json).map_err(|err| Thrown::Type(format!("kinde.fetch: invalid request: {err}")))
}

fn send(run: &mut RunState, request: FetchRequest) -> Result<FetchResponse, Thrown> {
    if run.fetches >= run.fetch_limits.max_fetches {
        return Err(Thrown::Generic(format!(
            "kinde.fetch: this run already made {} requests, the limit",
            run.fetch_limits.max_fetches
        )));
    }
    run.fetches += 1;
    let shown_url = url::Url::parse(&request.url)
        .map(|url| crate::network::redact_url(&url))
        .unwrap_or_else(|_| request.url.clone());
    let method = request.method.clone().unwrap_or_else(|| "GET".to_owned()).to_ascii_uppercase();
    let span = tracing::info_span!(
        parent: &run.span,
        "kinde.fetch",
        otel.name = %format!("{method} {shown_url}"),
        otel.kind = "client",
        http.request.method = %method,
        url.full = %shown_url,
        http.response.status_code = tracing::field::Empty,
    );
    let started = Instant::now();
    let result = span.in_scope(|| {
        run.services.network.fetch_blocking(request, run.trusted_host.clone(), &run.fetch_limits, run.deadline)
    });
    match &result {
        Ok(response) => {
            span.record("http.response.status_code", response.status);
        }
        Err(err) => {
            let _guard = span.enter();
            tracing::warn!(error = %run.redact(err), "kinde.fetch failed");
        }
    }
    let elapsed = started.elapsed();
    result.map_err(|err| {
        Thrown::Generic(format!("kinde.fetch {method} {shown_url} failed after {elapsed:?}: {}", run.redact(&err)))
    })
}
