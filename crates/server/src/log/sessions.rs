//! What viewer sessions need from the log: the key that signs them and the
//! sessions revoked before they expired. Both live where the log lives (the
//! data directory; the shared store when instances share one log), so a
//! session made through one instance holds, and its logout ends it, on every
//! instance that shares the log.
//!
//! The log fills this at start (what its storage recovered) and after each
//! committed revocation; `access::viewer` reads it on every request, and open
//! streams compare [`SessionRecords::generation`] on each event so that only a
//! revocation makes them look the set up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

/// A session that logout ended before its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The session's random id, as in its cookie.
    pub id: String,
    /// When the session would have expired (unix seconds): afterwards its
    /// cookie is refused anyway, so the record can go.
    pub expires: u64,
}

pub struct SessionRecords {
    /// The HMAC key of session cookies.
    key: [u8; 32],
    revoked: RwLock<HashMap<String, u64>>,
    /// Bumped by every revocation.
    generation: AtomicU64,
}

impl SessionRecords {
    pub fn new(key: [u8; 32], revoked: impl IntoIterator<Item = Revocation>) -> SessionRecords {
        SessionRecords {
            key,
            revoked: RwLock::new(revoked.into_iter().map(|r| (r.id, r.expires)).collect()),
            generation: AtomicU64::new(0),
        }
    }

    /// The key as 64 hex digits (how it is kept in a file), if it is one.
    pub fn key_from_hex(hex: &str) -> Option<[u8; 32]> {
        let mut key = [0u8; 32];
        if hex.len() != 64 {
            return None;
        }
        for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks(2)) {
            *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(key)
    }

    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    pub fn is_revoked(&self, id: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(id)
    }

    /// Changes whenever a session is revoked.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Records a committed revocation, and forgets those expired by `now`
    /// (unix seconds), whose cookies no longer pass anyway.
    pub fn revoke(&self, revocation: Revocation, now: u64) {
        let mut revoked = self.revoked.write().unwrap_or_else(PoisonError::into_inner);
        revoked.retain(|_, expires| *expires > now);
        revoked.insert(revocation.id, revocation.expires);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// How many revocations are kept (for tests and metrics).
    pub fn revoked_count(&self) -> usize {
        self.revoked
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_are_kept_until_the_session_would_have_expired() {
        let records = SessionRecords::new([0; 32], [revocation("a", 100)]);
        assert!(records.is_revoked("a"));
        assert!(!records.is_revoked("b"));
        let before = records.generation();
        records.revoke(revocation("b", 300), 50);
        assert!(records.generation() > before);
        assert!(records.is_revoked("a") && records.is_revoked("b"));
        records.revoke(revocation("c", 300), 200);
        assert!(!records.is_revoked("a"), "expired, forgotten");
        assert_eq!(records.revoked_count(), 2);
    }

    #[test]
    fn reads_a_hex_key() {
        let hex = "00ff".repeat(16);
        let key = SessionRecords::key_from_hex(&hex).unwrap();
        assert_eq!(key[0..2], [0x00, 0xff]);
        assert!(SessionRecords::key_from_hex("00").is_none());
        assert!(SessionRecords::key_from_hex(&"zz".repeat(32)).is_none());
    }

    fn revocation(id: &str, expires: u64) -> Revocation {
        Revocation {
            id: id.into(),
            expires,
        }
    }
}
