//! The threads of a build or a training: how many, and how the pure core
//! runs on them while this backend stays responsive.
//!
//! Graph building, k-means, quantizer training and encoding (index builds
//! and `lodestone.pq_train`) run on a rayon pool of
//! `max_parallel_maintenance_workers + 1` threads made for the call (never
//! rayon's global pool, which takes every core whatever the settings).
//! Only the backend's own thread calls Postgres; it waits for the pool,
//! reporting progress and checking for interrupts, and asks the pure code
//! to stop through a flag that code reads between its steps.

use pgrx::pg_sys;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Threads for the graph: `max_parallel_maintenance_workers` plus this one,
/// no more than the machine has cores.
pub fn build_threads() -> usize {
    // SAFETY: reads a GUC of this backend.
    let workers = unsafe { pg_sys::max_parallel_maintenance_workers }.max(0) as usize;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (workers + 1).min(cores).max(1)
}

/// Runs `work` on a pool of [`build_threads`] threads (not rayon's global
/// pool, which would ignore `max_parallel_maintenance_workers`). Rayon
/// threads never call Postgres, so this thread does, every few
/// milliseconds: `tick` (progress reports), then a check for interrupts. On
/// an interrupt (cancel, `statement_timeout`) it sets the flag `work` reads
/// between its steps, waits for `work` to stop and raises the interrupt's
/// error. A panic in `work` becomes an ERROR.
pub fn run_cancellable<T: Send>(work: impl FnOnce(&AtomicBool) -> T + Send, mut tick: impl FnMut()) -> T {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(build_threads())
        .thread_name(|i| format!("lodestone-build-{i}"))
        .build()
        .unwrap_or_else(|e| pgrx::error!("could not start build threads: {e}"));
    let cancel = AtomicBool::new(false);
    let outcome = std::thread::scope(|scope| {
        let cancel = &cancel;
        let worker =
            scope.spawn(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.install(|| work(cancel)))));
        // Short waits first: most calls on small tables end in a few ms.
        let mut wait = Duration::from_millis(1);
        while !worker.is_finished() {
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_millis(20));
            tick();
            let interrupted = std::panic::catch_unwind(|| {
                pgrx::check_for_interrupts!();
            });
            if let Err(error) = interrupted {
                cancel.store(true, Ordering::Relaxed);
                let _ = worker.join();
                std::panic::resume_unwind(error);
            }
        }
        worker.join()
    });
    match outcome {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) | Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            pgrx::error!("lodestone: internal error in a build thread: {message}")
        }
    }
}
