//! Pulseboard's server: an SSE stream of widget events, a hub that fans them out,
//! built-in host metrics, and the SPA's static files.

pub mod access;
pub mod api;
pub mod config;
pub mod config_file;
pub mod dashboards;
pub mod error;
pub mod frame;
pub mod history;
pub mod hub;
pub mod limits;
pub mod log;
pub mod log_text;
pub mod memory;
pub mod metrics;
pub mod publish;
pub mod refusal_log;
pub mod request_log;
pub mod routes;
pub mod secret_file;
pub mod security;
pub mod shutdown;
pub mod sources;
pub mod startup;
pub mod static_files;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
