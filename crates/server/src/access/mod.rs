//! Who is asking: the client's address behind trusted proxies, and whether a
//! viewer may see the dashboard.

pub mod client_ip;
pub mod viewer;

pub use client_ip::TrustedProxies;
pub use viewer::ViewerAccess;
