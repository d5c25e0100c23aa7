//! Who is asking: the client's address behind trusted proxies, the tokens
//! publishers and viewers present, and whether a viewer may see the dashboard.

pub mod client_ip;
pub mod tokens;
pub mod viewer;

pub use client_ip::{ClientIpHeader, TrustedProxies};
pub use tokens::Tokens;
pub use viewer::ViewerAccess;
