//! One run: a fresh context in a warm isolate, the bootstrap, the workflow module, its default
//! export called with the event, and what came of it.
//!
//! There is no event loop: a workflow's only asynchronous work is promises (`kinde.fetch` answers
//! synchronously), so draining the microtask queue settles everything that can ever settle. A
//! promise still pending after that waits on nothing and never will, and is reported as such.

use std::{
    cell::RefCell,
    rc::Rc,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Instant,
};

use claimflow_contracts::workflow::{ModuleExports, RunStatus};
use deno_core::v8;

use crate::{
    isolate::WarmIsolate,
    loader::{self, WORKFLOW_URL_PREFIX},
    ops::{redact_secrets, RunSlot, RunState},
    watchdog::Watchdog,
    RunOutcome, RunRequest,
};

/// Runs `request` in a new context of `isolate`, under the watchdog.
pub(crate) fn run(isolate: &mut WarmIsolate, request: RunRequest, watchdog: &Watchdog) -> RunOutcome {
    let started = Instant::now();
    let limits = request.limits.clone();
    let state = Rc::new(RefCell::new(RunState {
        base: request.base_claims,
        reset_claims: request.reset_claims,
        max_claims: limits.max_claims,
        set: Vec::new(),
        denied: None,
        session_policy: None,
        form_errors: Vec::new(),
        mfa_enforcement: None,
        logs: Vec::new(),
        log_bytes: 0,
        logs_truncated: false,
        max_log_bytes: limits.max_log_bytes,
        max_claims_bytes: limits.max_claims_bytes,
        environment: request.environment,
        secure_fetch_key: request.secure_fetch_key,
        services: request.services,
        trusted_host: request.trusted_host,
        workflow_id: request.workflow_id,
        fetch_limits: limits.fetch.clone(),
        fetches: 0,
        deadline: started + limits.wall_time,
        span: request.span,
    }));
    let main = loader::url_of(&request.source_name);
    let program = Program {
        main: &main,
        code: &request.code,
        graph: &request.graph,
        bindings: &request.bindings,
        event: &request.event,
        source_map: request.source_map.as_deref(),
        inspect_only: request.inspect_only,
    };

    let timed_out = Arc::new(AtomicBool::new(false));
    let armed = watchdog.arm(isolate.handle(), limits.wall_time, timed_out.clone());
    let result = execute(isolate, &program, state.clone());
    drop(armed);

    let out_of_memory = isolate.out_of_memory();
    let terminated = timed_out.load(Ordering::SeqCst) || out_of_memory;
    if terminated {
        isolate.isolate.cancel_terminate_execution();
        isolate.retire();
    }
    // NOTE: the context's slot was cleared when the run ended, so this is the last reference.
    let Ok(state) = Rc::try_unwrap(state).map(RefCell::into_inner) else {
        return RunOutcome {
            status: RunStatus::Failed,
            claims_set: Vec::new(),
            denied: None,
            session_policy: None,
            form_errors: Vec::new(),
            mfa_enforcement: None,
            logs: Vec::new(),
            error: Some("internal error: the run's state outlived its context".to_owned()),
            error_location: None,
            exports: None,
            duration: started.elapsed(),
        };
    };
    let mut exports = None;
    let mut error_location = None;
    let (status, error) = match result {
        _ if out_of_memory => (
            RunStatus::OutOfMemory,
            Some(format!("the workflow exceeded the V8 heap limit of {} MiB", limits.heap_bytes / (1024 * 1024))),
        ),
        _ if timed_out.load(Ordering::SeqCst) => {
            (RunStatus::TimedOut, Some(format!("the workflow exceeded its time limit of {:?}", limits.wall_time)))
        }
        Ok(evaluated) => {
            exports = evaluated;
            (RunStatus::Ok, None)
        }
        Err(failure) => {
            error_location = failure.location.clone();
            let message = if request.inspect_only { failure.text } else { failure.to_string() };
            (RunStatus::Failed, Some(redact_secrets(&state.environment, &message)))
        }
    };
    // A denial and claims only count from a run that completed.
    let completed = status == RunStatus::Ok;
    RunOutcome {
        status,
        claims_set: if completed { state.set } else { Vec::new() },
        denied: if completed { state.denied } else { None },
        session_policy: if completed { state.session_policy } else { None },
        form_errors: if completed { state.form_errors } else { Vec::new() },
        mfa_enforcement: if completed { state.mfa_enforcement } else { None },
        logs: state.logs,
        error,
        error_location,
        exports,
        duration: started.elapsed(),
    }
}

/// Why a run failed: the message, and where in the workflow's original source when known.
struct Failure {
    text: String,
    /// File (as deployed), 1-based line and column.
    location: Option<(String, usize, usize)>,
}

impl From<&str> for Failure {
    fn from(text: &str) -> Self {
        Failure { text: text.to_owned(), location: None }
    }
}

impl From<String> for Failure {
    fn from(text: String) -> Self {
        Failure { text, location: None }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some((name, line, column)) => write!(f, "{} ({name}:{line}:{column})", self.text),
            None => f.write_str(&self.text),
        }
    }
}

/// What a run executes, borrowed from its request.
struct Program<'a> {
    main: &'a str,
    code: &'a str,
    /// The project modules it imports.
    graph: &'a Arc<claimflow_contracts::workflow::ModuleGraph>,
    bindings: &'a [claimflow_contracts::settings::Binding],
    event: &'a serde_json::Value,
    /// Read only when an error needs a position in the original source.
    source_map: Option<&'a str>,
    inspect_only: bool,
}

/// Bootstraps a fresh context, evaluates the module, calls its default export with the event
/// (or, inspecting, reports the module's exports).
fn execute(isolate: &mut WarmIsolate, program: &Program, state: Rc<RunSlot>) -> Result<Option<ModuleExports>, Failure> {
    let context = isolate.take_context();
    let WarmIsolate { host, bootstrap, isolate, .. } = isolate;
    v8::scope!(let scope, isolate);
    let context = v8::Local::new(scope, context);
    let scope = &mut v8::ContextScope::new(scope, context);
    context.set_slot(state);
    v8::tc_scope!(let scope, scope);
    let result = evaluate(scope, host, bootstrap, program);
    // NOTE: from here on, any function of this run that still gets called finds no state.
    context.remove_slot::<RunSlot>();
    context.remove_slot::<loader::ModuleTable>();
    result
}

/// The scope a run evaluates in: it catches what JavaScript throws.
type TryScope<'a, 'b, 'c, 'd> = v8::PinnedRef<'a, v8::TryCatch<'b, 'c, v8::HandleScope<'d>>>;

fn evaluate(
    scope: &mut TryScope,
    host: &v8::Global<v8::ObjectTemplate>,
    bootstrap: &v8::Global<v8::UnboundScript>,
    program: &Program,
) -> Result<Option<ModuleExports>, Failure> {
    let failed = |scope: &mut TryScope| describe_pending(scope, program);
    let undefined: v8::Local<v8::Value> = v8::undefined(scope).into();

    let bootstrap = v8::Local::new(scope, bootstrap).bind_to_current_context(scope);
    let bootstrap = bootstrap.run(scope).ok_or_else(|| failed(scope))?;
    let bootstrap = v8::Local::<v8::Function>::try_from(bootstrap).map_err(|_| "the bootstrap is not a function")?;
    let host = v8::Local::new(scope, host).new_instance(scope).ok_or("cannot make the host object")?;
    let bindings: Vec<v8::Local<v8::Value>> = program
        .bindings
        .iter()
        .filter_map(|binding| v8::String::new(scope, binding.as_str()).map(Into::into))
        .collect();
    let bindings = v8::Array::new_with_elements(scope, &bindings);
    bootstrap.call(scope, undefined, &[host.into(), bindings.into()]).ok_or_else(|| failed(scope))?;

    let (module, table) =
        loader::compile(scope, program.main, program.code, program.graph).ok_or_else(|| failed(scope))?;
    scope.get_current_context().set_slot(Rc::new(table));
    module.instantiate_module(scope, loader::resolve_callback).ok_or_else(|| failed(scope))?;
    let evaluation = module.evaluate(scope).ok_or_else(|| failed(scope))?;
    settle(scope, evaluation, program, "the workflow module's top-level await never settled")?;

    let namespace = module.get_module_namespace().to_object(scope).ok_or("the module has no namespace")?;
    let key = v8::String::new(scope, "default").ok_or("cannot allocate a string")?;
    let export = namespace.get(scope, key.into()).ok_or_else(|| failed(scope))?;
    if program.inspect_only {
        return inspect(scope, namespace, export).map(Some);
    }
    let function = v8::Local::<v8::Function>::try_from(export)
        .map_err(|_| "the workflow's default export is not a function".to_owned())?;
    let event = serde_json::to_string(program.event).map_err(|err| format!("cannot pass the event: {err}"))?;
    let event = v8::String::new(scope, &event).ok_or("the event is too large")?;
    let event = v8::json::parse(scope, event).ok_or_else(|| failed(scope))?;
    let returned = function.call(scope, undefined, &[event]).ok_or_else(|| failed(scope))?;
    settle(scope, returned, program, "the workflow's promise never settled: it waits on something that cannot happen")?;
    Ok(None)
}

/// The exports deploy checks: `workflowSettings` as JSON, and what the default export is.
fn inspect(
    scope: &mut TryScope,
    namespace: v8::Local<v8::Object>,
    default_export: v8::Local<v8::Value>,
) -> Result<ModuleExports, Failure> {
    let default_export = default_export.type_of(scope).to_rust_string_lossy(scope);
    let key = v8::String::new(scope, "workflowSettings").ok_or("cannot allocate a string")?;
    let settings = namespace.get(scope, key.into()).filter(|value| !value.is_undefined());
    let workflow_settings = match settings {
        None => None,
        Some(settings) => {
            let json = v8::json::stringify(scope, settings)
                .ok_or("workflowSettings cannot be written as JSON (a cycle, or a BigInt)")?
                .to_rust_string_lossy(scope);
            Some(serde_json::from_str(&json).map_err(|err| format!("workflowSettings is not JSON: {err}"))?)
        }
    };
    Ok(ModuleExports { workflow_settings, default_export })
}

/// Drains the microtask queue; a rejected promise is the run's error.
fn settle(scope: &mut TryScope, value: v8::Local<v8::Value>, program: &Program, pending: &str) -> Result<(), Failure> {
    scope.perform_microtask_checkpoint();
    if scope.has_terminated() {
        return Err("terminated".into());
    }
    let Ok(promise) = v8::Local::<v8::Promise>::try_from(value) else { return Ok(()) };
    match promise.state() {
        v8::PromiseState::Fulfilled => Ok(()),
        v8::PromiseState::Rejected => {
            let reason = promise.result(scope);
            Err(describe(scope, reason, None, program))
        }
        v8::PromiseState::Pending => Err(pending.into()),
    }
}

/// The exception pending in `scope`, described.
fn describe_pending(scope: &mut TryScope, program: &Program) -> Failure {
    match (scope.exception(), scope.message()) {
        (Some(exception), message) => describe(scope, exception, message, program),
        (None, _) if scope.has_terminated() => "terminated".into(),
        (None, _) => "the workflow could not be run".into(),
    }
}

/// `Uncaught Error: boom (Workflow.ts:12:9)`: the message and where it was thrown in the
/// workflow's own source (through its source map), no stack dump.
fn describe(
    scope: &mut v8::PinScope<'_, '_>,
    exception: v8::Local<v8::Value>,
    message: Option<v8::Local<v8::Message>>,
    program: &Program,
) -> Failure {
    let message = message.unwrap_or_else(|| v8::Exception::create_message(scope, exception));
    let text = message.get(scope).to_rust_string_lossy(scope);
    let in_workflow = |name: &str| name.starts_with(WORKFLOW_URL_PREFIX);
    // The innermost frame in the workflow, else where the message itself points.
    let mut location = None;
    if let Some(trace) = v8::Exception::get_stack_trace(scope, exception).or_else(|| message.get_stack_trace(scope)) {
        for index in 0..trace.get_frame_count() {
            let Some(frame) = trace.get_frame(scope, index) else { continue };
            let name = frame.get_script_name(scope).map(|name| name.to_rust_string_lossy(scope)).unwrap_or_default();
            if in_workflow(&name) {
                location = Some((name, frame.get_line_number(), frame.get_column()));
                break;
            }
        }
    }
    if location.is_none() {
        let name = message.get_script_resource_name(scope).map(|name| name.to_rust_string_lossy(scope));
        if let (Some(name), Some(line)) = (name.filter(|name| in_workflow(name)), message.get_line_number(scope)) {
            location = Some((name, line, message.get_start_column() + 1));
        }
    }
    let location = location.map(|(name, line, column)| {
        let (line, column) = original_position(program, &name, line, column);
        (name.trim_start_matches(WORKFLOW_URL_PREFIX).to_owned(), line, column)
    });
    Failure { text, location }
}

/// A 1-based position in the transpiled module `name` (the workflow or one of its project
/// modules), mapped to the original TypeScript.
fn original_position(program: &Program, name: &str, line: usize, column: usize) -> (usize, usize) {
    let map = if name == program.main {
        program.source_map
    } else {
        let path = name.trim_start_matches(WORKFLOW_URL_PREFIX);
        program.graph.module(path).and_then(|module| module.source_map.as_deref())
    };
    let map = map.and_then(|map| sourcemap::SourceMap::from_slice(map.as_bytes()).ok());
    let mapped = map
        .as_ref()
        .and_then(|map| map.lookup_token(line.saturating_sub(1) as u32, column.saturating_sub(1) as u32))
        .map(|token| (token.get_src_line() as usize + 1, token.get_src_col() as usize + 1));
    mapped.unwrap_or((line, column))
}
