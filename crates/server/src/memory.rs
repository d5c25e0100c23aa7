//! Gives memory back to the OS after viewers leave.
//!
//! Each stream costs ~12 KiB of heap (mostly actix's per-connection buffers).
//! When thousands leave, glibc keeps the freed pages in its per-thread arenas
//! (they are rarely at the top of a heap, so `free` cannot trim them), and the
//! process stays at its peak for good. `malloc_trim(0)` returns every whole
//! free page; it is run off the async workers, after many streams closed and
//! otherwise once a minute (a few milliseconds at most).

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::metrics::Metrics;

/// Streams that must have closed since the last trim before the next one.
const CLOSED_STREAMS_PER_TRIM: u64 = 256;
const CHECK_EVERY: Duration = Duration::from_millis(250);
const TRIM_AT_LEAST_EVERY: Duration = Duration::from_secs(60);

pub fn spawn_reclaimer(metrics: Metrics) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut trimmed_at = 0;
        let mut last_trim = Instant::now();
        let mut ticker = tokio::time::interval(CHECK_EVERY);
        loop {
            ticker.tick().await;
            let open = metrics.open_streams.get().max(0) as u64;
            let closed = metrics.streams_opened.get().saturating_sub(open);
            let quiet_for = last_trim.elapsed();
            // Also now and then: page loads and API bursts free memory too,
            // without closing any stream.
            if closed >= trimmed_at + CLOSED_STREAMS_PER_TRIM || quiet_for >= TRIM_AT_LEAST_EVERY {
                trimmed_at = closed;
                last_trim = Instant::now();
                // It walks every arena under its lock: not on an async worker.
                let _ = tokio::task::spawn_blocking(release_free_pages).await;
            }
        }
    })
}

/// Gives the allocator's free pages back to the OS (glibc keeps them
/// otherwise).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_pages() {
    // SAFETY: malloc_trim only inspects and shrinks the allocator's own free
    // lists; it is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_pages() {}
