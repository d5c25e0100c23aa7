//! What one client may cost: streams open at once, publish and login rates,
//! and the size of a request's head.

pub mod guesses;
pub mod rate;
pub mod request_head;
pub mod streams;

pub use guesses::{Credential, GuessLimit};
pub use rate::RateLimits;
pub use streams::{StreamSlot, StreamSlots};
