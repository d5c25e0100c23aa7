//! Pulseboard's browser app.
//!
//! - [`stream`]: the tab's single EventSource, its supervisor, and the view it
//!   feeds (context), rendered once per animation frame ([`frame`]);
//! - [`state`]: the view and the reducer that folds events in, sharing
//!   [`widgets`] rather than copying them; [`liveness`]: the connection's
//!   state (pure, tested natively);
//! - [`wall`]: kiosk mode and rotation from the address, [`fit`]: the kiosk
//!   grid (pure, tested), [`reload`]: reloading after a deploy,
//!   [`wake_lock`]: keeping a wall screen awake;
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
pub mod fit;
pub mod format;
pub mod frame;
pub mod freshness;
pub mod layout;
pub mod level;
pub mod liveness;
pub mod reload;
pub mod route;
pub mod session;
pub mod state;
pub mod stream;
pub mod wake_lock;
pub mod wall;
pub mod widgets;

pub use app::App;
