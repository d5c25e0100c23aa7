//! Streams open at once, in total and per client address. A stream holds a
//! [`StreamSlot`] for its whole life; dropping it frees the slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;

use crate::error::ApiError;

/// When a refused viewer should try again. Streams end all the time (tabs
/// close), so a slot is likely free by then; the SPA adds its own jitter.
const RETRY_AFTER: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct StreamSlots {
    inner: Arc<Inner>,
}

struct Inner {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a stream was refused, for the log and the metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Total,
    PerIp,
}

impl Full {
    pub fn as_str(self) -> &'static str {
        match self {
            Full::Total => "max_streams",
            Full::PerIp => "max_streams_per_ip",
        }
    }

    pub fn into_error(self) -> ApiError {
        let message = match self {
            Full::Total => "this server has as many streams open as it allows (--max-streams); try again shortly",
            Full::PerIp => "this address has as many streams open as it may (--max-streams-per-ip); close some tabs or try again shortly",
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too_many_streams", message)
            .retry_after(RETRY_AFTER)
    }
}

impl StreamSlots {
    pub fn new(max_total: usize, max_per_ip: usize) -> StreamSlots {
        StreamSlots {
            inner: Arc::new(Inner {
                max_total,
                max_per_ip,
                open: Mutex::new(Open::default()),
            }),
        }
    }

    /// A slot for one more stream from `client`, if both limits allow it.
    pub fn acquire(&self, client: Option<IpAddr>) -> Result<StreamSlot, Full> {
        let mut open = self.inner.lock();
        if open.total >= self.inner.max_total {
            return Err(Full::Total);
        }
        if let Some(ip) = client {
            let count = open.per_ip.entry(ip).or_default();
            if *count >= self.inner.max_per_ip {
                return Err(Full::PerIp);
            }
            *count += 1;
        }
        open.total += 1;
        Ok(StreamSlot {
            slots: self.inner.clone(),
            client,
        })
    }

    /// Streams holding a slot now.
    pub fn open(&self) -> usize {
        self.inner.lock().total
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // The counts stay consistent even if a holder panicked mid-update:
        // every update is a single increment or decrement.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct StreamSlot {
    slots: Arc<Inner>,
    client: Option<IpAddr>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        open.total -= 1;
        if let Some(ip) = self.client {
            if let Some(count) = open.per_ip.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    open.per_ip.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_and_dropping_frees_the_slot() {
        let slots = StreamSlots::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = slots.acquire(Some(a)).unwrap();
        let _a2 = slots.acquire(Some(a)).unwrap();
        assert_eq!(slots.acquire(Some(a)).err(), Some(Full::PerIp));
        let _b1 = slots.acquire(Some(b)).unwrap();
        assert_eq!(slots.acquire(Some(b)).err(), Some(Full::Total));
        assert_eq!(slots.open(), 3);
        drop(a1);
        assert_eq!(slots.open(), 2);
        let _a3 = slots.acquire(Some(a)).expect("a's slot was freed");
    }

    #[test]
    fn addresses_are_forgotten_when_their_last_stream_ends() {
        let slots = StreamSlots::new(10, 1);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        drop(slots.acquire(Some(a)).unwrap());
        assert!(slots.inner.lock().per_ip.is_empty());
        assert!(slots.acquire(None).is_ok());
    }
}
