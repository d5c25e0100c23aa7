//! Pulseboard's browser app.
//!
//! - [`stream`]: the tab's single EventSource and the store it feeds (context);
//! - [`state`]: the store's state and reducer (pure, tested natively);
//! - [`backoff`]: when to reconnect (pure, tested natively);
//! - [`session`]: viewer tokens: form or dashboard (pure, tested natively),
//!   [`api`]: the `/api/session` requests;
//! - [`route`]: which dashboard the address shows (tested natively);
//! - [`layout`]: a dashboard's cards from its declaration and the snapshot,
//!   [`freshness`]: stale or not, [`level`]: threshold colours (pure, tested);
//! - [`format`], [`chart`]: text and geometry for the views (pure, tested),
//!   [`a11y`]: what they tell assistive technology (pure, tested);
//! - [`components`]: the views, one file per widget kind.

pub mod a11y;
pub mod api;
pub mod app;
pub mod backoff;
pub mod chart;
pub mod components;
pub mod format;
pub mod freshness;
pub mod layout;
pub mod level;
pub mod route;
pub mod session;
pub mod state;
pub mod stream;

pub use app::App;
