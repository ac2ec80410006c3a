//! One run inside a fresh isolate: the ops user code reaches through `kinde`, the module loader
//! that only knows the workflow and `@kinde/infrastructure`, and the run itself.

use std::{
    cell::Cell,
    rc::Rc,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Instant,
};

use claimflow_contracts::{
    workflow::{LogLine, RunStatus},
    Claims, ProhibitedClaims, TokenKind,
};
use deno_core::{
    error::{CoreError, CoreErrorKind},
    op2, serde_v8, v8, JsRuntime, ModuleLoadOptions, ModuleLoadReferrer, ModuleLoadResponse, ModuleLoader,
    ModuleSource, ModuleSourceCode, ModuleSpecifier, ModuleType, OpState, PollEventLoopOptions, ResolutionKind,
    RuntimeOptions,
};

use deno_error::JsErrorBox;

use crate::{
    engine::Watchdog,
    network::{FetchLimits, FetchRequest, FetchResponse},
    EnvironmentVariable, RunOutcome, RunRequest, Services,
};

const INFRASTRUCTURE_SPECIFIER: &str = "claimflow:kinde-infrastructure";
const BOOTSTRAP: &str = include_str!("js/bootstrap.js");
const INFRASTRUCTURE: &str = include_str!("js/infrastructure.js");

/// Per-run state the ops read and write. Taken out of the isolate when the run ends.
struct RunState {
    base: Vec<(TokenKind, Claims)>,
    reset_claims: Vec<TokenKind>,
    max_claims: usize,
    set: Vec<(TokenKind, Claims)>,
    denied: Option<String>,
    logs: Vec<LogLine>,
    log_bytes: usize,
    logs_truncated: bool,
    max_log_bytes: usize,
    max_claims_bytes: usize,
    environment: Vec<EnvironmentVariable>,
    secure_fetch_key: Option<[u8; 32]>,
    services: Arc<Services>,
    trusted_host: Option<String>,
    workflow_id: String,
    fetch_limits: FetchLimits,
    fetches: u32,
    deadline: Instant,
    span: tracing::Span,
}

impl RunState {
    /// Replaces every secret environment value in `text` (console output, errors).
    fn redact(&self, text: &str) -> String {
        redact_secrets(&self.environment, text)
    }
}

fn redact_secrets(environment: &[EnvironmentVariable], text: &str) -> String {
    let mut text = text.to_owned();
    for variable in environment.iter().filter(|v| v.is_secret && v.value.len() >= 4) {
        if text.contains(&variable.value) {
            text = text.replace(&variable.value, "[redacted]");
        }
    }
    text
}

impl RunState {
    fn set_for(&mut self, kind: TokenKind) -> &mut Claims {
        if let Some(index) = self.set.iter().position(|(k, _)| *k == kind) {
            return &mut self.set[index].1;
        }
        self.set.push((kind, Claims::new()));
        &mut self.set.last_mut().expect("just pushed").1
    }
}

fn token_kind(kind: &str) -> Result<TokenKind, JsErrorBox> {
    match kind {
        "access" => Ok(TokenKind::Access),
        "id" => Ok(TokenKind::Id),
        "m2m" => Ok(TokenKind::M2m),
        other => Err(JsErrorBox::type_error(format!("unknown token kind {other}"))),
    }
}

/// The token's current custom claims: base claims a workflow may change, then what was set.
#[op2]
#[serde]
fn op_claims_get(state: &mut OpState, #[string] kind: String) -> Result<Claims, JsErrorBox> {
    let kind = token_kind(&kind)?;
    let run = state.borrow::<RunState>();
    let mut claims: Claims = run
        .base
        .iter()
        .filter(|(k, _)| *k == kind && !run.reset_claims.contains(k))
        .flat_map(|(_, claims)| claims.iter())
        .filter(|(name, _)| !ProhibitedClaims::is_prohibited(kind, name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    for (k, set) in &run.set {
        if *k == kind {
            claims.extend(set.iter().map(|(name, value)| (name.clone(), value.clone())));
        }
    }
    Ok(claims)
}

#[op2(fast)]
fn op_claims_set(
    state: &mut OpState,
    #[string] kind: &str,
    #[string] name: &str,
    #[string] value_json: &str,
) -> Result<(), JsErrorBox> {
    let kind = token_kind(kind)?;
    let value: serde_json::Value = serde_json::from_str(value_json)
        .map_err(|err| JsErrorBox::type_error(format!("setCustomClaim({name}): value is not JSON: {err}")))?;
    let run = state.borrow_mut::<RunState>();
    let limit = run.max_claims_bytes;
    let max_claims = run.max_claims;
    let claims = run.set_for(kind);
    if claims.len() >= max_claims && !claims.contains_key(name) {
        return Err(JsErrorBox::range_error(format!(
            "setCustomClaim({name}): a workflow may set at most {max_claims} claims on the {} token",
            kind.as_str()
        )));
    }
    let previous = claims.insert(name.to_owned(), value);
    let size = serde_json::to_vec(claims).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
    if size > limit {
        // NOTE: undo, so the limit error leaves the claims as they were.
        match previous {
            Some(previous) => claims.insert(name.to_owned(), previous),
            None => claims.remove(name),
        };
        return Err(JsErrorBox::range_error(format!(
            "setCustomClaim({name}): the claims set on the {} token would be {size} bytes, over the limit of {limit}",
            kind.as_str()
        )));
    }
    Ok(())
}

#[op2(fast)]
fn op_console(state: &mut OpState, #[string] level: &str, #[string] message: &str) {
    let run = state.borrow_mut::<RunState>();
    if run.logs_truncated {
        return;
    }
    if run.log_bytes + message.len() > run.max_log_bytes {
        run.logs_truncated = true;
        run.logs.push(LogLine {
            level: "warn".into(),
            message: format!("console output truncated at {} bytes", run.max_log_bytes),
        });
        return;
    }
    run.log_bytes += message.len();
    let level = match level {
        "info" | "warn" | "error" => level,
        _ => "log",
    };
    let message = run.redact(message);
    run.logs.push(LogLine { level: level.to_owned(), message });
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvironmentValue {
    value: String,
    is_secret: bool,
}

/// `kinde.env.get(key)`: `{value, isSecret}`, or nothing for an unknown key.
#[op2]
#[serde]
fn op_env_get(state: &mut OpState, #[string] key: &str) -> Option<EnvironmentValue> {
    state
        .borrow::<RunState>()
        .environment
        .iter()
        .find(|variable| variable.key == key)
        .map(|variable| EnvironmentValue { value: variable.value.clone(), is_secret: variable.is_secret })
}

/// `kinde.fetch`: blocks the isolate's thread until the answer, within the run's time.
#[op2]
#[serde]
fn op_fetch(state: &mut OpState, #[serde] request: FetchRequest) -> Result<FetchResponse, JsErrorBox> {
    fetch(state.borrow_mut::<RunState>(), request)
}

/// `kinde.secureFetch`: a POST whose body is encrypted with the environment's key
/// (AES-256-GCM, sent as `base64(nonce || ciphertext)`), so only the receiving API can read it.
#[op2]
#[serde]
fn op_secure_fetch(state: &mut OpState, #[serde] mut request: FetchRequest) -> Result<FetchResponse, JsErrorBox> {
    use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
    let run = state.borrow_mut::<RunState>();
    let key = run.secure_fetch_key.ok_or_else(|| {
        JsErrorBox::generic("kinde.secureFetch: no encryption key is configured for this environment")
    })?;
    let cipher = aes_gcm::Aes256Gcm::new(&key.into());
    let nonce = aes_gcm::Aes256Gcm::generate_nonce(&mut OsRng);
    let plaintext = request.body.take().unwrap_or_default();
    let ciphertext = cipher
        .encrypt(&nonce, plaintext.as_bytes())
        .map_err(|_| JsErrorBox::generic("kinde.secureFetch: encryption failed"))?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ciphertext);
    use base64::Engine as _;
    request.body = Some(base64::engine::general_purpose::STANDARD.encode(sealed));
    request.method = Some("POST".to_owned());
    request.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
    request.headers.push(("content-type".to_owned(), "text/plain".to_owned()));
    request.headers.push(("x-claimflow-encryption".to_owned(), "aes-256-gcm".to_owned()));
    fetch(run, request)
}

fn fetch(run: &mut RunState, request: FetchRequest) -> Result<FetchResponse, JsErrorBox> {
    if run.fetches >= run.fetch_limits.max_fetches {
        return Err(JsErrorBox::generic(format!(
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
        JsErrorBox::generic(format!("kinde.fetch {method} {shown_url} failed after {elapsed:?}: {}", run.redact(&err)))
    })
}

/// `kinde.cache.jwtToken`: the cached token for this workflow and name, if still valid.
#[op2]
#[string]
fn op_cache_get(state: &mut OpState, #[string] name: &str) -> Option<String> {
    let run = state.borrow::<RunState>();
    run.services.token_cache.get(&run.workflow_id, name)
}

#[op2(fast)]
fn op_cache_put(
    state: &mut OpState,
    #[string] name: &str,
    #[string] token: &str,
    #[string] jwks_url: &str,
) -> Result<(), JsErrorBox> {
    let run = state.borrow::<RunState>();
    let fetch = |request| {
        run.services.network.fetch_blocking(request, run.trusted_host.clone(), &run.fetch_limits, run.deadline)
    };
    run.services
        .token_cache
        .put(&run.workflow_id, name, token, jwks_url, fetch)
        .map_err(|err| JsErrorBox::generic(format!("kinde.cache.jwtToken({name}): {err}")))
}

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

/// The `url` binding's `URL` parses with the WHATWG URL parser of the `url` crate.
#[op2]
#[serde]
fn op_url_parse(#[string] href: &str, #[string] base: Option<String>) -> Result<UrlParts, JsErrorBox> {
    let parsed = match base {
        Some(base) => url::Url::parse(&base).and_then(|base| base.join(href)),
        None => url::Url::parse(href),
    }
    .map_err(|err| JsErrorBox::type_error(format!("Invalid URL {href:?}: {err}")))?;
    let port = parsed.port().map(|p| p.to_string()).unwrap_or_default();
    let hostname = parsed.host_str().unwrap_or_default().to_owned();
    Ok(UrlParts {
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
}

#[op2(fast)]
fn op_deny_access(state: &mut OpState, #[string] reason: &str) {
    state.borrow_mut::<RunState>().denied.get_or_insert_with(|| reason.to_owned());
}

deno_core::extension!(
    claimflow_sandbox,
    ops = [
        op_claims_get,
        op_claims_set,
        op_console,
        op_deny_access,
        op_env_get,
        op_fetch,
        op_secure_fetch,
        op_cache_get,
        op_cache_put,
        op_url_parse,
    ],
);

/// Resolves the workflow itself and `@kinde/infrastructure`; nothing else exists. The workflow
/// is set when a prepared isolate is given its run.
#[derive(Default)]
struct WorkflowLoader {
    workflow: std::cell::RefCell<Option<(ModuleSpecifier, Option<Arc<str>>)>>,
}

impl WorkflowLoader {
    fn main(&self) -> Option<ModuleSpecifier> {
        self.workflow.borrow().as_ref().map(|(main, _)| main.clone())
    }
}

impl ModuleLoader for WorkflowLoader {
    fn resolve(&self, specifier: &str, referrer: &str, _kind: ResolutionKind) -> Result<ModuleSpecifier, JsErrorBox> {
        match specifier {
            "@kinde/infrastructure" | "npm:@kinde/infrastructure" | INFRASTRUCTURE_SPECIFIER => {
                ModuleSpecifier::parse(INFRASTRUCTURE_SPECIFIER).map_err(JsErrorBox::from_err)
            }
            _ if self.main().is_some_and(|main| main.as_str() == specifier) => {
                Ok(self.main().expect("checked just before"))
            }
            _ => Err(JsErrorBox::type_error(format!(
                "cannot import {specifier:?} from {referrer}: workflows may only import \"@kinde/infrastructure\""
            ))),
        }
    }

    fn load(
        &self,
        specifier: &ModuleSpecifier,
        _referrer: Option<&ModuleLoadReferrer>,
        _options: ModuleLoadOptions,
    ) -> ModuleLoadResponse {
        ModuleLoadResponse::Sync(if specifier.as_str() == INFRASTRUCTURE_SPECIFIER {
            Ok(ModuleSource::new(
                ModuleType::JavaScript,
                ModuleSourceCode::String(deno_core::FastString::from_static(INFRASTRUCTURE)),
                specifier,
                None,
            ))
        } else {
            Err(JsErrorBox::type_error(format!("module {specifier} is not available")))
        })
    }

    /// Lets V8's stack traces name lines of the original TypeScript.
    fn get_source_map(&self, file_name: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
        let workflow = self.workflow.borrow();
        let (main, map) = workflow.as_ref()?;
        if file_name != main.as_str() {
            return None;
        }
        map.as_deref().map(|map| std::borrow::Cow::Owned(map.as_bytes().to_vec()))
    }
}

/// A fresh isolate made ready ahead of its run, so the run does not pay for creating it. Each
/// prepared isolate serves exactly one run and is then dropped: nothing a run does can be seen
/// by another.
pub(crate) struct PreparedIsolate {
    runtime: JsRuntime,
    loader: Rc<WorkflowLoader>,
    out_of_memory: Rc<Cell<bool>>,
    pub(crate) heap_bytes: usize,
}

/// Creates an isolate with the sandbox's ops. Must be called inside a tokio runtime context on
/// the thread that will run it.
pub(crate) fn prepare(snapshot: &'static [u8], heap_bytes: usize) -> PreparedIsolate {
    let loader = Rc::new(WorkflowLoader::default());
    let mut runtime = JsRuntime::new(RuntimeOptions {
        startup_snapshot: Some(snapshot),
        extensions: vec![claimflow_sandbox::init()],
        module_loader: Some(loader.clone()),
        create_params: Some(v8::CreateParams::default().heap_limits(0, heap_bytes)),
        ..Default::default()
    });
    // NOTE: V8 calls this when the heap nears its limit. Raising the limit gives the isolate room
    // to unwind after we terminate it; returning the same limit would abort the whole process.
    let out_of_memory = Rc::new(Cell::new(false));
    {
        let flag = out_of_memory.clone();
        let handle = runtime.v8_isolate().thread_safe_handle();
        runtime.add_near_heap_limit_callback(move |current, _initial| {
            flag.set(true);
            handle.terminate_execution();
            current * 2
        });
    }
    PreparedIsolate { runtime, loader, out_of_memory, heap_bytes }
}

/// The global the snapshot keeps the bootstrap function under until a run calls (and deletes) it.
const BOOTSTRAP_GLOBAL: &str = "__claimflowBootstrap";

/// A V8 startup snapshot holding deno_core's own JavaScript and the compiled bootstrap, so a new
/// isolate deserializes instead of running them. Made once per process, on its own thread (it
/// needs a tokio context and must not share a thread with another isolate).
pub(crate) fn create_snapshot() -> &'static [u8] {
    let snapshot = std::thread::spawn(|| {
        let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let _context = tokio.enter();
        let mut runtime = deno_core::JsRuntimeForSnapshot::new(RuntimeOptions {
            extensions: vec![claimflow_sandbox::init()],
            ..Default::default()
        });
        runtime
            .execute_script("[claimflow:snapshot]", format!("globalThis.{BOOTSTRAP_GLOBAL} = {BOOTSTRAP};"))
            .expect("the bootstrap compiles");
        runtime.snapshot()
    })
    .join()
    .expect("snapshot creation does not panic");
    Box::leak(snapshot)
}

/// Runs one workflow in a prepared isolate. Returns the isolate too, so the caller can drop it
/// after replying (tearing an isolate down takes time the request should not wait for).
pub(crate) async fn run(
    prepared: PreparedIsolate,
    request: RunRequest,
    watchdog: &Watchdog,
) -> (RunOutcome, JsRuntime) {
    let started = Instant::now();
    let limits = request.limits.clone();
    let main = ModuleSpecifier::parse(&format!("file:///workflow/{}", request.source_name.trim_start_matches('/')))
        .unwrap_or_else(|_| ModuleSpecifier::parse("file:///workflow/Workflow.js").expect("static URL"));
    let PreparedIsolate { mut runtime, loader, out_of_memory, .. } = prepared;
    *loader.workflow.borrow_mut() = Some((main.clone(), request.source_map.clone()));
    runtime.op_state().borrow_mut().put(RunState {
        base: request.base_claims,
        reset_claims: request.reset_claims.clone(),
        max_claims: limits.max_claims,
        set: Vec::new(),
        denied: None,
        logs: Vec::new(),
        log_bytes: 0,
        logs_truncated: false,
        max_log_bytes: limits.max_log_bytes,
        max_claims_bytes: limits.max_claims_bytes,
        environment: request.environment.clone(),
        secure_fetch_key: request.secure_fetch_key,
        services: request.services.clone(),
        trusted_host: request.trusted_host.clone(),
        workflow_id: request.workflow_id.clone(),
        fetch_limits: limits.fetch.clone(),
        fetches: 0,
        deadline: started + limits.wall_time,
        span: request.span.clone(),
    });
    let timed_out = Arc::new(AtomicBool::new(false));
    let guard = watchdog.arm(runtime.v8_isolate().thread_safe_handle(), limits.wall_time, timed_out.clone());
    // NOTE: termination only interrupts running JavaScript; the tokio timeout also bounds time
    // spent waiting on ops.
    let result = tokio::time::timeout(
        limits.wall_time + std::time::Duration::from_millis(50),
        execute(&mut runtime, &main, request.code, request.bindings, request.event),
    )
    .await;
    drop(guard);

    let state = runtime.op_state().borrow_mut().take::<RunState>();
    let (status, error) = match result {
        Ok(Ok(())) => (RunStatus::Ok, None),
        _ if out_of_memory.get() => (
            RunStatus::OutOfMemory,
            Some(format!("the workflow exceeded the V8 heap limit of {} MiB", limits.heap_bytes / (1024 * 1024))),
        ),
        Err(_) => {
            (RunStatus::TimedOut, Some(format!("the workflow exceeded its time limit of {:?}", limits.wall_time)))
        }
        Ok(Err(_)) if timed_out.load(Ordering::SeqCst) => {
            (RunStatus::TimedOut, Some(format!("the workflow exceeded its time limit of {:?}", limits.wall_time)))
        }
        Ok(Err(message)) => (RunStatus::Failed, Some(redact_secrets(&request.environment, &message))),
    };
    // A denial only counts from a run that completed.
    let denied = if status == RunStatus::Ok { state.denied } else { None };
    let claims_set = if status == RunStatus::Ok { state.set } else { Vec::new() };
    (RunOutcome { status, claims_set, denied, logs: state.logs, error, duration: started.elapsed() }, runtime)
}

/// Bootstraps the sandbox, evaluates the module, calls its default export with the event.
async fn execute(
    runtime: &mut JsRuntime,
    main: &ModuleSpecifier,
    code: Arc<str>,
    bindings: Vec<String>,
    event: serde_json::Value,
) -> Result<(), String> {
    let bindings = serde_json::to_string(&bindings).map_err(|err| err.to_string())?;
    runtime
        .execute_script(
            "[claimflow:bootstrap]",
            format!("{{ const bootstrap = globalThis.{BOOTSTRAP_GLOBAL}; delete globalThis.{BOOTSTRAP_GLOBAL}; bootstrap(Deno.core.ops, {bindings}); }}"),
        )
        .map_err(|err| describe_js_error(&err))?;
    let module = runtime.load_main_es_module_from_code(main, code).await.map_err(|err| describe(&err))?;
    let evaluation = runtime.mod_evaluate(module);
    runtime.run_event_loop(PollEventLoopOptions::default()).await.map_err(|err| describe(&err))?;
    evaluation.await.map_err(|err| describe(&err))?;
    let namespace = runtime.get_module_namespace(module).map_err(|err| describe(&err))?;
    let (function, argument) = {
        deno_core::scope!(scope, runtime);
        let namespace = v8::Local::new(scope, namespace);
        let key = v8::String::new(scope, "default").ok_or("cannot allocate a string")?;
        let export = namespace.get(scope, key.into()).ok_or("cannot read the default export")?;
        let function = v8::Local::<v8::Function>::try_from(export)
            .map_err(|_| "the workflow's default export is not a function".to_owned())?;
        let argument = serde_v8::to_v8(scope, &event).map_err(|err| format!("cannot pass the event: {err}"))?;
        (v8::Global::new(scope, function), v8::Global::new(scope, argument))
    };
    let call = runtime.call_with_args(&function, &[argument]);
    runtime.with_event_loop_promise(call, PollEventLoopOptions::default()).await.map_err(|err| describe(&err))?;
    Ok(())
}

fn describe(err: &CoreError) -> String {
    match err.as_kind() {
        CoreErrorKind::Js(js) => describe_js_error(js),
        _ => err.to_string(),
    }
}

/// `Uncaught Error: boom (Workflow.ts:12:9)`: the message and where it was thrown, no stack dump.
fn describe_js_error(err: &deno_core::error::JsError) -> String {
    let location = err
        .frames
        .iter()
        .find(|frame| frame.file_name.as_deref().is_some_and(|name| name.starts_with("file:///workflow/")));
    match location {
        Some(frame) => format!(
            "{} ({}:{}:{})",
            err.exception_message,
            frame.file_name.as_deref().unwrap_or_default().trim_start_matches("file:///workflow/"),
            frame.line_number.unwrap_or_default(),
            frame.column_number.unwrap_or_default()
        ),
        None => err.exception_message.clone(),
    }
}
