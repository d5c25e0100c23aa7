//! Gives memory back to the OS after viewers leave.
//!
//! Each stream costs ~12 KiB of heap (mostly actix's per-connection buffers).
//! When thousands leave, glibc keeps the freed pages in its per-thread arenas
//! (they are rarely at the top of a heap, so `free` cannot trim them), and the
//! process stays at its peak for good. `malloc_trim(0)` returns every whole
//! free page; it is run off the async workers, and only after many streams
//! closed, so a steady state never pays for it.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::metrics::Metrics;

/// Streams that must have closed since the last trim before the next one.
const CLOSED_STREAMS_PER_TRIM: u64 = 256;
const CHECK_EVERY: Duration = Duration::from_millis(250);

pub fn spawn_reclaimer(metrics: Metrics) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut trimmed_at = 0;
        let mut ticker = tokio::time::interval(CHECK_EVERY);
        loop {
            ticker.tick().await;
            let open = metrics.open_streams.get().max(0) as u64;
            let closed = metrics.streams_opened.get().saturating_sub(open);
            if closed >= trimmed_at + CLOSED_STREAMS_PER_TRIM {
                trimmed_at = closed;
                // It walks every arena under its lock: not on an async worker.
                let _ = tokio::task::spawn_blocking(release_free_pages).await;
            }
        }
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_pages() {
    // SAFETY: malloc_trim only inspects and shrinks the allocator's own free
    // lists; it is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_pages() {}
