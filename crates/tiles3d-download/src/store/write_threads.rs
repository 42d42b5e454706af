//! The threads that write files which arrived whole: a few long-lived threads of the download
//! fed by one queue.
//!
//! `spawn_blocking` hands each file to whichever of the runtime's blocking threads is idle,
//! starting more while all are busy: with eight files at a time that is eight or more threads
//! taking turns on the pool's lock, each woken for one file, and creating inodes side by side.
//! Here a thread that finishes a file takes the next one from the queue without sleeping, and
//! no more threads write than the machine has cores.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// A queue of blocking jobs and the threads that run them, in order of arrival. The threads
/// end when the queue is dropped, after the jobs already queued.
pub(crate) struct WriteThreads {
    jobs: mpsc::Sender<Job>,
}

impl WriteThreads {
    /// Starts `threads` threads (at least one).
    pub(crate) fn start(threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name("tiles3d-writer".to_owned())
                .spawn(move || {
                    loop {
                        // The lock is released before the job runs: one thread waits for the
                        // next job while the others work.
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match next {
                            Ok(job) => job(),
                            Err(mpsc::RecvError) => break,
                        }
                    }
                })?;
        }
        Ok(WriteThreads { jobs })
    }

    /// Queues `work` for one of the threads; the future gives its result, `None` when it
    /// panicked (the thread carries on) or when the threads are gone. The work is queued when
    /// this is called, not when the future is first polled.
    pub(crate) fn run<T, F>(&self, work: F) -> impl Future<Output = Option<T>> + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(work)).ok());
        });
        let queued = self.jobs.send(job).is_ok();
        async move {
            if !queued {
                return None;
            }
            result.await.ok().flatten()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_off_the_caller_and_return_their_results() {
        let threads = WriteThreads::start(2).unwrap();
        let caller = std::thread::current().id();
        let (name, thread) = threads
            .run(|| {
                let current = std::thread::current();
                (current.name().map(str::to_owned), current.id())
            })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("tiles3d-writer"));
        assert_ne!(thread, caller);
        let results = futures::future::join_all((0..20u32).map(|i| threads.run(move || i * i)));
        let squares: Vec<u32> = results.await.into_iter().map(Option::unwrap).collect();
        assert_eq!(squares, (0..20).map(|i| i * i).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_panicking_job_gives_none_and_the_threads_carry_on() {
        let threads = WriteThreads::start(1).unwrap();
        assert_eq!(threads.run(|| -> u8 { panic!("a writer bug") }).await, None);
        assert_eq!(
            threads.run(|| 7).await,
            Some(7),
            "the one thread is still there"
        );
    }

    #[tokio::test]
    async fn jobs_queued_before_the_queue_is_dropped_still_run() {
        let threads = WriteThreads::start(1).unwrap();
        let (started, wait) = std::sync::mpsc::channel();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        // The one thread is held inside a job while a second is queued behind it.
        let first = threads.run(move || {
            started.send(()).unwrap();
            hold.recv().unwrap();
        });
        let first = tokio::spawn(first);
        wait.recv().unwrap();
        let second = threads.run(|| "ran");
        drop(threads);
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        assert_eq!(second.await, Some("ran"));
    }
}
