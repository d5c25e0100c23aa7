//! One module per endpoint.

pub mod events;
pub mod health;
pub mod metrics;
pub mod small_chunks;
