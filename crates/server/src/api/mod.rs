//! The HTTP API for publishers.

pub mod auth;
pub mod body;
pub mod dashboards;
pub mod idempotency_key;
pub mod openapi;
pub mod request_body;
pub mod session;
pub mod widgets;

pub use auth::{GeneratedToken, PublishTokens};
