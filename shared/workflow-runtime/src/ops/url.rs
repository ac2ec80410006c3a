//! The `url` binding's `URL` parses with the WHATWG URL parser of the `url` crate.

use deno_core::v8;

use super::{json, string_arg, with_run, Thrown};

#[derive(serde::Serialize)]
struct UrlParts {
    href: String,
    origin: String,
    protocol: String,
    username: String,
    password: String,
    host: String,
    hostname: String,
    port: String,
    pathname: String,
    search: String,
    hash: String,
}

/// `urlParse(href, base | null)`: the parts as JSON.
pub(super) fn parse(scope: &mut v8::PinScope, args: v8::FunctionCallbackArguments, rv: v8::ReturnValue<v8::Value>) {
    let href = string_arg(scope, &args, 0).unwrap_or_default();
    let base = string_arg(scope, &args, 1);
    with_run(scope, rv, |_| {
        let parsed = match &base {
            Some(base) => url::Url::parse(base).and_then(|base| base.join(&href)),
            None => url::Url::parse(&href),
        }
        .map_err(|err| Thrown::Type(format!("Invalid URL {href:?}: {err}")))?;
        let port = parsed.port().map(|p| p.to_string()).unwrap_or_default();
        let hostname = parsed.host_str().unwrap_or_default().to_owned();
        json(&UrlParts {
            origin: parsed.origin().ascii_serialization(),
            protocol: format!("{}:", parsed.scheme()),
            username: parsed.username().to_owned(),
            password: parsed.password().unwrap_or_default().to_owned(),
            host: if port.is_empty() { hostname.clone() } else { format!("{hostname}:{port}") },
            hostname,
            port,
            pathname: parsed.path().to_owned(),
            search: parsed.query().filter(|q| !q.is_empty()).map(|q| format!("?{q}")).unwrap_or_default(),
            hash: parsed.fragment().filter(|f| !f.is_empty()).map(|f| format!("#{f}")).unwrap_or_default(),
            href: parsed.into(),
        })
    });
}
