//! Signing deliveries off the async workers, at a lower CPU priority.
//!
//! Each delivery costs one RSA-2048 signature (about 0.8 ms of CPU, more
//! than everything else the inbox and the delivery do for an activity). Run
//! on the async workers, a busy delivery queue takes the CPU the inbox needs
//! to answer: on two cores, signing an `Accept` for each of 3,000 Follows a
//! second would need more than both. So delivery signatures are made on
//! their own threads, one per core, niced to [`NICE`]: when the inbox is
//! busy the kernel gives them a bounded share of the CPU (about a tenth next
//! to a busy thread at the normal priority) and the queue catches up when
//! the inbox is quiet; when nothing else runs they use every core. The
//! queue is durable, so a delivery that waits loses nothing; an inbox
//! request that waits may be timed out and retried by its sender.
//!
//! Fetches (the instance actor's signed GETs) are signed inline: the inbox
//! waits for them.

use std::sync::{Arc, Mutex, mpsc};

/// The signing threads' niceness (0 is normal, 19 the lowest): the CFS
/// weight of nice 10 is 110 against 1,024 for nice 0, about a tenth.
const NICE: libc::c_int = 10;

type Work = Box<dyn FnOnce() + Send>;

/// A pool of low-priority threads that run signing work and hand back the
/// result.
#[derive(Clone)]
pub struct Signer {
    work: mpsc::Sender<Work>,
}

impl Signer {
    /// One thread per core (at least one), each lowering its own priority.
    pub fn new() -> Signer {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let (work, queue) = mpsc::channel::<Work>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("officehours-signer-{n}")).spawn(move || {
                lower_priority();
                loop {
                    // The lock is held only while waiting for the next job.
                    let next = queue.lock().map_err(|_| ()).and_then(|q| q.recv().map_err(|_| ()));
                    match next {
                        Ok(job) => job(),
                        Err(()) => break,
                    }
                }
            });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "could not start a signing thread");
            }
        }
        Signer { work }
    }

    /// Runs `sign` on a signing thread and returns its result. Should no
    /// thread be running (they could not be started), it runs here.
    pub async fn run<T, F>(&self, sign: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (answer, result) = tokio::sync::oneshot::channel();
        let job: Work = Box::new(move || {
            let _ = answer.send(sign());
        });
        if let Err(mpsc::SendError(job)) = self.work.send(job) {
            job();
        }
        match result.await {
            Ok(value) => value,
            // The thread panicked while signing: so would this.
            Err(_) => panic!("a signing thread stopped while signing"),
        }
    }
}

impl Default for Signer {
    fn default() -> Signer {
        Signer::new()
    }
}

/// Lowers the calling thread's priority to [`NICE`] (Linux: per thread).
/// Failing to is harmless: the signatures are then made at the normal
/// priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority only read their arguments.
        let done = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE)
        };
        if done != 0 {
            tracing::debug!("could not lower the signing threads' priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Signer;

    #[tokio::test]
    async fn work_runs_on_a_signing_thread_and_its_result_comes_back() {
        let signer = Signer::new();
        let name = signer.run(|| std::thread::current().name().map(str::to_string)).await;
        assert!(name.is_some_and(|n| n.starts_with("officehours-signer-")));
        let tasks: Vec<_> = (0..64u64)
            .map(|n| {
                let signer = signer.clone();
                tokio::spawn(async move { signer.run(move || n * 2).await })
            })
            .collect();
        for (n, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), n as u64 * 2);
        }
    }
}
