//! The native functions behind the `kinde` global: the only way a workflow reaches anything
//! outside its V8 context.
//!
//! Each run gets these functions as properties of one fresh `host` object, made in the run's own
//! context from a template the isolate keeps; the bootstrap wraps them in closures and never
//! lets user code touch `host` itself. A function reads and writes the [`RunState`] kept in the
//! slot of the context it belongs to, so code of an earlier run, should any still execute, finds
//! no state and gets an error: it can never reach another run's claims, logs or secrets.
//!
//! Values cross the boundary as strings (JSON where structured), so every object user code
//! sees is made by `JSON.parse` inside its own context, with that context's prototypes.

mod auth;
mod cache;
mod claims;
mod console;
mod env;
mod fetch;
mod url;

use std::{cell::RefCell, sync::Arc, time::Instant};

use claimflow_contracts::{workflow::LogLine, Claims, TokenKind};
use deno_core::v8;

use crate::{network::FetchLimits, EnvironmentVariable, Services};

/// What a run's native functions read and write. Lives in the run context's slot and is taken
/// out when the run ends.
pub(crate) struct RunState {
    pub(crate) base: Vec<(TokenKind, Claims)>,
    pub(crate) reset_claims: Vec<TokenKind>,
    pub(crate) max_claims: usize,
    pub(crate) set: Vec<(TokenKind, Claims)>,
    pub(crate) denied: Option<String>,
    pub(crate) session_policy: Option<claimflow_contracts::workflow::SessionPolicy>,
    pub(crate) mfa_enforcement: Option<claimflow_contracts::mfa::MfaEnforcement>,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) log_bytes: usize,
    pub(crate) logs_truncated: bool,
    pub(crate) max_log_bytes: usize,
    pub(crate) max_claims_bytes: usize,
    pub(crate) environment: Vec<EnvironmentVariable>,
    /// `kinde.widget.invalidateFormField`: (field, message).
    pub(crate) form_errors: Vec<(String, String)>,
    pub(crate) secure_fetch_key: Option<[u8; 32]>,
    pub(crate) services: Arc<Services>,
    pub(crate) trusted_host: Option<String>,
    pub(crate) workflow_id: String,
    pub(crate) fetch_limits: FetchLimits,
    pub(crate) fetches: u32,
    pub(crate) deadline: Instant,
    pub(crate) span: tracing::Span,
}

impl RunState {
    /// Replaces every secret environment value in `text` (console output, errors).
    pub(crate) fn redact(&self, text: &str) -> String {
        redact_secrets(&self.environment, text)
    }
}

pub(crate) fn redact_secrets(environment: &[EnvironmentVariable], text: &str) -> String {
    let mut text = text.to_owned();
    for variable in environment.iter().filter(|v| v.is_secret && v.value.len() >= 4) {
        if text.contains(&variable.value) {
            text = text.replace(&variable.value, "[redacted]");
        }
    }
    text
}

/// The slot type: the state of the run a context belongs to.
pub(crate) type RunSlot = RefCell<RunState>;

/// The `host` object's template: one property per native function. Made once per isolate.
pub(crate) fn host_template<'s>(scope: &v8::PinScope<'s, '_, ()>) -> v8::Local<'s, v8::ObjectTemplate> {
    let template = v8::ObjectTemplate::new(scope);
    let add = |name: &str, function: v8::Local<v8::FunctionTemplate>| {
        let name = v8::String::new(scope, name).expect("a short ASCII name");
        template.set(name.into(), function.into());
    };
    add("claimsGet", v8::FunctionTemplate::new(scope, claims::get));
    add("claimsSet", v8::FunctionTemplate::new(scope, claims::set));
    add("console", v8::FunctionTemplate::new(scope, console::log));
    add("denyAccess", v8::FunctionTemplate::new(scope, auth::deny_access));
    add("setSessionPolicy", v8::FunctionTemplate::new(scope, auth::set_session_policy));
    add("invalidateFormField", v8::FunctionTemplate::new(scope, auth::invalidate_form_field));
    add("setMfaEnforcement", v8::FunctionTemplate::new(scope, auth::set_mfa_enforcement));
    add("envGet", v8::FunctionTemplate::new(scope, env::get));
    add("fetch", v8::FunctionTemplate::new(scope, fetch::fetch));
    add("secureFetch", v8::FunctionTemplate::new(scope, fetch::secure_fetch));
    add("issuerFetch", v8::FunctionTemplate::new(scope, fetch::issuer_fetch));
    add("cacheGet", v8::FunctionTemplate::new(scope, cache::get));
    add("cachePut", v8::FunctionTemplate::new(scope, cache::put));
    add("urlParse", v8::FunctionTemplate::new(scope, url::parse));
    template
}

/// An error for the calling JavaScript, of the kind user code can catch.
pub(crate) enum Thrown {
    Type(String),
    Range(String),
    Generic(String),
}

/// What a native function returns to JavaScript.
pub(crate) enum Returned {
    Undefined,
    String(String),
}

/// Runs `body` with the calling run's state and hands its result (or error) to JavaScript.
pub(crate) fn with_run(
    scope: &mut v8::PinScope,
    mut rv: v8::ReturnValue<v8::Value>,
    body: impl FnOnce(&mut RunState) -> Result<Returned, Thrown>,
) {
    let context = scope.get_current_context();
    let result = match context.get_slot::<RunSlot>() {
        Some(state) => match state.try_borrow_mut() {
            Ok(mut state) => body(&mut state),
            Err(_) => Err(Thrown::Generic("kinde: a binding was called while another one was running".into())),
        },
        None => Err(Thrown::Generic("kinde: this workflow run has ended".into())),
    };
    match result {
        Ok(Returned::Undefined) => rv.set_undefined(),
        Ok(Returned::String(text)) => match v8::String::new(scope, &text) {
            Some(text) => rv.set(text.into()),
            None => throw(scope, Thrown::Range("kinde: the value is too large for a JavaScript string".into())),
        },
        Err(thrown) => throw(scope, thrown),
    }
}

fn text<'s>(scope: &v8::PinScope<'s, '_>, message: &str) -> v8::Local<'s, v8::String> {
    v8::String::new(scope, message).unwrap_or_else(|| v8::String::empty(scope))
}

fn throw(scope: &mut v8::PinScope, thrown: Thrown) {
    let exception = match thrown {
        Thrown::Type(message) => {
            let message = text(scope, &message);
            v8::Exception::type_error(scope, message)
        }
        Thrown::Range(message) => {
            let message = text(scope, &message);
            v8::Exception::range_error(scope, message)
        }
        Thrown::Generic(message) => {
            let message = text(scope, &message);
            v8::Exception::error(scope, message)
        }
    };
    scope.throw_exception(exception);
}

/// Argument `index` as a string (JavaScript's `String(value)`), `None` when absent or nullish.
pub(crate) fn string_arg(scope: &mut v8::PinScope, args: &v8::FunctionCallbackArguments, index: i32) -> Option<String> {
    let value = args.get(index);
    if value.is_null_or_undefined() {
        return None;
    }
    Some(value.to_rust_string_lossy(scope))
}

pub(crate) fn token_kind(kind: &str) -> Result<TokenKind, Thrown> {
    match kind {
        "access" => Ok(TokenKind::Access),
        "id" => Ok(TokenKind::Id),
        "m2m" => Ok(TokenKind::M2m),
        other => Err(Thrown::Type(format!("unknown token kind {other}"))),
    }
}

pub(crate) fn json(value: &impl serde::Serialize) -> Result<Returned, Thrown> {
    serde_json::to_string(value).map(Returned::String).map_err(|err| Thrown::Generic(err.to_string()))
}
