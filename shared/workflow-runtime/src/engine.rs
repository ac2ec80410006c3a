//! A fixed pool of OS threads, each owning at most one live isolate at a time, and the watchdog
//! that stops runs over their wall time.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc, Arc,
    },
    time::{Duration, Instant},
};

use deno_core::v8;
use tokio::sync::oneshot;

use crate::{sandbox, RunOutcome, RunRequest};

type Job = (RunRequest, oneshot::Sender<RunOutcome>);

/// Runs workflows on `threads` dedicated threads. Cloning shares the pool.
#[derive(Clone)]
pub struct Engine {
    jobs: tokio::sync::mpsc::Sender<Job>,
    threads: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the workflow engine has stopped")]
    Stopped,
    #[error("cannot start a workflow thread: {0}")]
    Spawn(#[source] std::io::Error),
}

impl Engine {
    /// Starts the pool. Call from the process's main thread before anything else uses V8:
    /// all isolates must share a platform initialized by a parent thread.
    pub fn start(threads: usize) -> Result<Engine, EngineError> {
        Engine::start_with_heap(threads, crate::Limits::default().heap_bytes)
    }

    /// As [`Engine::start`], preparing isolates with `heap_bytes` of V8 heap (the limit most runs
    /// ask for; others get an isolate made for them).
    pub fn start_with_heap(threads: usize, heap_bytes: usize) -> Result<Engine, EngineError> {
        deno_core::JsRuntime::init_platform(None);
        let snapshot = sandbox::create_snapshot();
        let threads = threads.max(1);
        // NOTE: the queue holds one job per thread at most; callers bound their own
        // concurrency to `threads()`, so a full queue means a caller ignored that.
        let (jobs, receiver) = tokio::sync::mpsc::channel::<Job>(threads);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        for index in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("workflow-{index}"))
                .spawn(move || pool_thread(receiver, snapshot, heap_bytes))
                .map_err(EngineError::Spawn)?;
        }
        Ok(Engine { jobs, threads })
    }

    /// How many runs can proceed at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs one workflow to completion (or to its limits).
    pub async fn run(&self, request: RunRequest) -> Result<RunOutcome, EngineError> {
        let (reply, outcome) = oneshot::channel();
        // NOTE: waits only while every thread is busy and the queue is full.
        self.jobs.send((request, reply)).await.map_err(|_| EngineError::Stopped)?;
        outcome.await.map_err(|_| EngineError::Stopped)
    }
}

fn pool_thread(
    receiver: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Job>>>,
    snapshot: &'static [u8],
    heap_bytes: usize,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(%err, "cannot start a workflow thread's runtime");
            return;
        }
    };
    let watchdog = Watchdog::start();
    // NOTE: isolates are created inside the runtime's context so V8's delayed tasks find it.
    let prepare = |heap_bytes| {
        let _context = runtime.enter();
        sandbox::prepare(snapshot, heap_bytes)
    };
    let mut spare = Some(prepare(heap_bytes));
    let mut pending: Option<Job> = None;
    loop {
        let job = match pending.take() {
            Some(job) => Some(job),
            // NOTE: idle threads queue on the mutex; the one holding it waits for the next job.
            None => receiver.blocking_lock().blocking_recv(),
        };
        let Some((request, reply)) = job else { return };
        // NOTE: the spare isolate was made while this thread was idle; a request with another
        // heap limit gets its own. Never two live isolates on one thread: the spare goes first.
        let prepared = match spare.take() {
            Some(prepared) if prepared.heap_bytes == request.limits.heap_bytes => prepared,
            other => {
                drop(other);
                prepare(request.limits.heap_bytes)
            }
        };
        let (outcome, used) = runtime.block_on(sandbox::run(prepared, request, &watchdog));
        let _ = reply.send(outcome);
        // NOTE: tearing the used isolate down and making the next one costs about a millisecond
        // of CPU. On a small machine that CPU is taken from the threads carrying the reply, so
        // wait briefly (or until the next job) before spending it.
        pending = runtime.block_on(async {
            let mut receiver = receiver.lock().await;
            tokio::time::timeout(REPLY_HEADROOM, receiver.recv()).await.ok().flatten()
        });
        drop(used);
        spare = Some(prepare(heap_bytes));
    }
}

/// How long a pool thread lets a reply travel before recycling its isolate.
const REPLY_HEADROOM: Duration = Duration::from_millis(1);

/// Terminates an isolate whose run passed its deadline. One per pool thread, so arming costs a
/// channel send, not a thread spawn.
pub(crate) struct Watchdog {
    commands: mpsc::Sender<WatchdogCommand>,
    next_id: AtomicU64,
}

enum WatchdogCommand {
    Arm { id: u64, deadline: Instant, handle: v8::IsolateHandle, fired: Arc<AtomicBool> },
    Disarm { id: u64 },
}

/// Disarms the watchdog when the run ends, however it ends.
pub(crate) struct Armed<'a> {
    watchdog: &'a Watchdog,
    id: u64,
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        let _ = self.watchdog.commands.send(WatchdogCommand::Disarm { id: self.id });
    }
}

impl Watchdog {
    fn start() -> Watchdog {
        let (commands, receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("workflow-watchdog".into())
            .spawn(move || watch(receiver))
            .expect("cannot start the workflow watchdog thread");
        Watchdog { commands, next_id: AtomicU64::new(0) }
    }

    pub(crate) fn arm(&self, handle: v8::IsolateHandle, limit: Duration, fired: Arc<AtomicBool>) -> Armed<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let _ = self.commands.send(WatchdogCommand::Arm { id, deadline: Instant::now() + limit, handle, fired });
        Armed { watchdog: self, id }
    }
}

fn watch(commands: mpsc::Receiver<WatchdogCommand>) {
    let mut armed: Option<(u64, Instant, v8::IsolateHandle, Arc<AtomicBool>)> = None;
    loop {
        let command = match &armed {
            Some((_, deadline, _, _)) => {
                match commands.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(command) => Some(command),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            None => match commands.recv() {
                Ok(command) => Some(command),
                Err(_) => return,
            },
        };
        match command {
            Some(WatchdogCommand::Arm { id, deadline, handle, fired }) => armed = Some((id, deadline, handle, fired)),
            Some(WatchdogCommand::Disarm { id }) => {
                if armed.as_ref().is_some_and(|(armed_id, ..)| *armed_id == id) {
                    armed = None;
                }
            }
            None => {
                if let Some((_, _, handle, fired)) = armed.take() {
                    fired.store(true, Ordering::SeqCst);
                    handle.terminate_execution();
                }
            }
        }
    }
}
