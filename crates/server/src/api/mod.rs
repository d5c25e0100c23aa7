//! The HTTP API for publishers.

pub mod auth;
pub mod error;
pub mod widgets;

pub use auth::PublishTokens;
pub use error::ApiError;
