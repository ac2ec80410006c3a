//! The watchdog: terminates an isolate whose run passed its deadline, from another thread (a
//! timeout on the isolate's own thread cannot stop `while (true) {}`).
//!
//! NOTE: one watchdog per pool thread, so arming costs a channel send, not a thread spawn; it
//! watches at most one run at a time, as its pool thread runs one at a time.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc, Arc,
    },
    time::{Duration, Instant},
};

use deno_core::v8;

pub(crate) struct Watchdog {
    commands: mpsc::Sender<Command>,
    next_id: AtomicU64,
}

enum Command {
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
        let _ = self.watchdog.commands.send(Command::Disarm { id: self.id });
    }
}

impl Watchdog {
    pub(crate) fn start() -> std::io::Result<Watchdog> {
        let (commands, receiver) = mpsc::channel();
        std::thread::Builder::new().name("workflow-watchdog".into()).spawn(move || watch(receiver))?;
        Ok(Watchdog { commands, next_id: AtomicU64::new(0) })
    }

    /// Terminates `handle`'s isolate after `limit` unless disarmed first; `fired` tells the run
    /// it was stopped.
    pub(crate) fn arm(&self, handle: v8::IsolateHandle, limit: Duration, fired: Arc<AtomicBool>) -> Armed<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let _ = self.commands.send(Command::Arm { id, deadline: Instant::now() + limit, handle, fired });
        Armed { watchdog: self, id }
    }
}

fn watch(commands: mpsc::Receiver<Command>) {
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
            Some(Command::Arm { id, deadline, handle, fired }) => armed = Some((id, deadline, handle, fired)),
            Some(Command::Disarm { id }) => {
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
