//! A fixed set of OS threads for signing, sized to the cores.
//!
//! A signature is pure CPU work (about a quarter of a millisecond for RSA-2048). Done on the
//! async executor it would stall every other task on that thread, and `spawn_blocking` would grow
//! a thread per waiting request under load. This pool never has more signatures in progress than
//! it has threads; the rest wait in its queue.

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, thiserror::Error)]
#[error("the signing threads have stopped")]
pub struct PoolStopped;

#[derive(Clone)]
pub struct SigningPool {
    jobs: crossbeam_channel::Sender<Job>,
    threads: usize,
}

impl SigningPool {
    pub fn start(threads: usize) -> std::io::Result<SigningPool> {
        let threads = threads.max(1);
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for index in 0..threads {
            let queue = queue.clone();
            // NOTE: the threads end when every sender is dropped, i.e. with the last pool handle.
            std::thread::Builder::new().name(format!("signer-{index}")).spawn(move || {
                for job in queue {
                    job();
                }
            })?;
        }
        Ok(SigningPool { jobs, threads })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `work` on a signing thread and waits for its result without blocking the executor.
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolStopped>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = reply.send(work());
            }))
            .map_err(|_| PoolStopped)?;
        result.await.map_err(|_| PoolStopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_pool_threads_not_the_caller() {
        let pool = SigningPool::start(2).unwrap();
        let name = pool.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert!(name.is_some_and(|name| name.starts_with("signer-")));
        let results = futures::future::join_all((0..16).map(|n| pool.run(move || n * 2))).await;
        assert_eq!(results.into_iter().map(Result::unwrap).sum::<i32>(), (0..16).map(|n| n * 2).sum::<i32>());
    }
}
