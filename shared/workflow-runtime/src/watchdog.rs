//! The watchdog: terminates an isolate whose run passed its deadline, from another thread (a
//! timeout on the isolate's own thread cannot stop `while (true) {}`).
//!
//! NOTE: one watchdog per pool thread, watching at most one run at a time, as its pool thread
//! runs one at a time. Arming and disarming only write the shared slot; the watchdog thread is
//! woken only when it was idle, and otherwise wakes at the deadline it already waits for and
//! then looks at whichever run is armed now. So a run that ends in time costs no wakeup: a
//! thread switch per run was measurable at thousands of runs a second.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Condvar, Mutex,
    },
    time::{Duration, Instant},
};

use deno_core::v8;

struct Run {
    id: u64,
    deadline: Instant,
    handle: v8::IsolateHandle,
    fired: Arc<AtomicBool>,
}

struct Slot {
    run: Option<Run>,
    next_id: u64,
    /// What the watchdog thread waits for: `None` while idle (nothing was armed when it
    /// looked), else the deadline it will wake at.
    waiting_until: Option<Instant>,
    stopped: bool,
}

struct Shared {
    slot: Mutex<Slot>,
    wake: Condvar,
}

pub(crate) struct Watchdog {
    shared: Arc<Shared>,
}

/// Disarms the watchdog when the run ends, however it ends.
pub(crate) struct Armed<'a> {
    watchdog: &'a Watchdog,
    id: u64,
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        let mut slot = self.watchdog.shared.slot.lock().expect("watchdog poisoned");
        if slot.run.as_ref().is_some_and(|run| run.id == self.id) {
            slot.run = None;
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.slot.lock().expect("watchdog poisoned").stopped = true;
        self.shared.wake.notify_one();
    }
}

impl Watchdog {
    pub(crate) fn start() -> std::io::Result<Watchdog> {
        let slot = Slot { run: None, next_id: 0, waiting_until: Some(Instant::now()), stopped: false };
        let shared = Arc::new(Shared { slot: Mutex::new(slot), wake: Condvar::new() });
        let watched = shared.clone();
        std::thread::Builder::new().name("workflow-watchdog".into()).spawn(move || watch(&watched))?;
        Ok(Watchdog { shared })
    }

    /// Terminates `handle`'s isolate after `limit` unless disarmed first; `fired` tells the run
    /// it was stopped.
    pub(crate) fn arm(&self, handle: v8::IsolateHandle, limit: Duration, fired: Arc<AtomicBool>) -> Armed<'_> {
        let mut slot = self.shared.slot.lock().expect("watchdog poisoned");
        slot.next_id += 1;
        let id = slot.next_id;
        let deadline = Instant::now() + limit;
        slot.run = Some(Run { id, deadline, handle, fired });
        // NOTE: a wakeup only when the watchdog would otherwise wake too late: it is idle, or
        // waits for a later deadline (an earlier run with a longer limit).
        if slot.waiting_until.is_none_or(|until| deadline < until) {
            self.shared.wake.notify_one();
        }
        Armed { watchdog: self, id }
    }
}

fn watch(shared: &Shared) {
    let mut slot = shared.slot.lock().expect("watchdog poisoned");
    loop {
        if slot.stopped {
            return;
        }
        let now = Instant::now();
        slot = match slot.run.as_ref().map(|run| run.deadline) {
            Some(deadline) if deadline <= now => {
                let run = slot.run.take().expect("just seen");
                run.fired.store(true, Ordering::SeqCst);
                run.handle.terminate_execution();
                slot
            }
            Some(deadline) => {
                slot.waiting_until = Some(deadline);
                shared.wake.wait_timeout(slot, deadline - now).expect("watchdog poisoned").0
            }
            None => {
                slot.waiting_until = None;
                shared.wake.wait(slot).expect("watchdog poisoned")
            }
        };
    }
}
