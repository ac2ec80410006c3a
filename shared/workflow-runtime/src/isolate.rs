//! A warm V8 isolate that serves run after run, each in a context of its own.
//!
//! Making an isolate costs milliseconds; making a context in a warm one costs a fifth of a
//! millisecond. A context is V8's unit of JavaScript isolation (a realm: its own global object,
//! its own built-in objects and prototypes), so a run in a fresh context cannot see globals,
//! prototypes or module state another run left behind, and objects of one context are never
//! reachable from another unless handed over, which this crate never does.
//!
//! An isolate is retired, and a fresh one made, after a run that hit the heap limit or was
//! terminated (its heap limit was raised to let it unwind, or its state after a termination is
//! best not trusted), and after [`MAX_RUNS_PER_ISOLATE`] runs, so that nothing an isolate
//! accumulates (code caches, fragmented heap) grows without bound.

use std::{
    ffi::c_void,
    sync::atomic::{AtomicBool, Ordering},
};

use deno_core::v8;

use crate::ops;

const BOOTSTRAP: &str = include_str!("js/bootstrap.js");

/// Runs served by one isolate before it is replaced.
const MAX_RUNS_PER_ISOLATE: u64 = 20_000;

/// What the near-heap-limit callback needs, at an address that outlives the isolate.
struct HeapWatch {
    out_of_memory: AtomicBool,
    handle: v8::IsolateHandle,
}

pub(crate) struct WarmIsolate {
    // NOTE: fields drop in order: the handles into the isolate first, then the isolate, then
    // the data its heap callback points at.
    pub(crate) host: v8::Global<v8::ObjectTemplate>,
    pub(crate) bootstrap: v8::Global<v8::UnboundScript>,
    /// A context made ahead, between runs, for the next run; never used by any other.
    spare: Option<v8::Global<v8::Context>>,
    pub(crate) isolate: v8::OwnedIsolate,
    heap_watch: Box<HeapWatch>,
    pub(crate) heap_bytes: usize,
    runs: u64,
    retired: bool,
}

impl WarmIsolate {
    /// A new isolate with a V8 heap of at most `heap_bytes`. Call on the thread that will use it.
    pub(crate) fn new(heap_bytes: usize) -> WarmIsolate {
        let mut isolate = v8::Isolate::new(v8::CreateParams::default().heap_limits(0, heap_bytes));
        isolate.set_microtasks_policy(v8::MicrotasksPolicy::Explicit);
        // NOTE: errors carry the stack of where they were made, so a run's error names the line.
        isolate.set_capture_stack_trace_for_uncaught_exceptions(true, 16);
        let heap_watch =
            Box::new(HeapWatch { out_of_memory: AtomicBool::new(false), handle: isolate.thread_safe_handle() });
        let data = &*heap_watch as *const HeapWatch as *mut c_void;
        isolate.add_near_heap_limit_callback(near_heap_limit, data);
        let (host, bootstrap) = {
            v8::scope!(let scope, &mut isolate);
            let host = ops::host_template(scope);
            // NOTE: compiling needs a context; this one is only for that and is thrown away.
            let context = v8::Context::new(scope, Default::default());
            let scope = &mut v8::ContextScope::new(scope, context);
            let source = v8::String::new(scope, BOOTSTRAP).expect("the bootstrap fits a string");
            let name = v8::String::new(scope, "claimflow:bootstrap").expect("a short name");
            let origin = v8::ScriptOrigin::new(scope, name.into(), 0, 0, false, 0, None, false, false, false, None);
            let mut source = v8::script_compiler::Source::new(source, Some(&origin));
            let bootstrap = v8::script_compiler::compile_unbound_script(
                scope,
                &mut source,
                v8::script_compiler::CompileOptions::NoCompileOptions,
                v8::script_compiler::NoCacheReason::NoReason,
            )
            .expect("the bootstrap compiles");
            (v8::Global::new(scope, host), v8::Global::new(scope, bootstrap))
        };
        let mut warm =
            WarmIsolate { host, bootstrap, spare: None, isolate, heap_watch, heap_bytes, runs: 0, retired: false };
        warm.prepare_context();
        warm
    }

    /// A fresh context for the next run (made ahead when the thread was idle, so the run does
    /// not wait for it).
    pub(crate) fn take_context(&mut self) -> v8::Global<v8::Context> {
        match self.spare.take() {
            Some(context) => context,
            None => {
                self.prepare_context();
                self.spare.take().expect("just prepared")
            }
        }
    }

    fn prepare_context(&mut self) {
        v8::scope!(let scope, &mut self.isolate);
        let context = v8::Context::new(scope, Default::default());
        self.spare = Some(v8::Global::new(scope, context));
    }

    pub(crate) fn handle(&self) -> v8::IsolateHandle {
        self.isolate.thread_safe_handle()
    }

    pub(crate) fn out_of_memory(&self) -> bool {
        self.heap_watch.out_of_memory.load(Ordering::SeqCst)
    }

    /// After a run that hit a limit: this isolate serves no further run.
    pub(crate) fn retire(&mut self) {
        self.retired = true;
    }

    /// Whether the isolate may serve another run with `heap_bytes`.
    pub(crate) fn fits(&self, heap_bytes: usize) -> bool {
        !self.retired && self.heap_bytes == heap_bytes
    }

    /// Housekeeping between runs, after the reply went out: V8's own tasks for this isolate
    /// (garbage collection steps), and retirement after many runs.
    pub(crate) fn after_run(&mut self) {
        self.runs += 1;
        if self.runs >= MAX_RUNS_PER_ISOLATE {
            self.retired = true;
        }
        let platform = v8::V8::get_current_platform();
        while v8::Platform::pump_message_loop(&platform, &self.isolate, false) {}
        if !self.retired {
            self.prepare_context();
        }
    }
}

impl Drop for WarmIsolate {
    fn drop(&mut self) {
        // NOTE: every run's context holds its slots through a weak handle whose finalizer runs
        // when the context is collected. Collected during the isolate's own teardown, those
        // finalizers have crashed the process (a `None` unwrapped in rusty_v8's second-pass
        // callback, seen once in CI): collect the dead contexts now, while the isolate is whole,
        // and run what V8 queued, so teardown finds none.
        self.spare = None;
        self.isolate.low_memory_notification();
        let platform = v8::V8::get_current_platform();
        while v8::Platform::pump_message_loop(&platform, &self.isolate, false) {}
    }
}

/// V8 calls this when the heap nears its limit. Raising the limit gives the run room to unwind
/// after it is terminated; returning the same limit would abort the whole process.
#[allow(unsafe_code)]
extern "C" fn near_heap_limit(data: *mut c_void, current_heap_limit: usize, _initial_heap_limit: usize) -> usize {
    // SAFETY: `data` points at the `HeapWatch` boxed in the `WarmIsolate` that owns the isolate
    // this callback is registered on; the box is dropped only after the isolate.
    let watch = unsafe { &*(data as *const HeapWatch) };
    watch.out_of_memory.store(true, Ordering::SeqCst);
    watch.handle.terminate_execution();
    current_heap_limit * 2
}
